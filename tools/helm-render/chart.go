package main

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver"
	"gopkg.in/yaml.v3"
)

// Maintainer is one entry of Chart.yaml's maintainers.
type Maintainer struct {
	Name  string `yaml:"name" json:"name,omitempty"`
	Email string `yaml:"email" json:"email,omitempty"`
	URL   string `yaml:"url" json:"url,omitempty"`
}

// Metadata is Chart.yaml, reached in templates as .Chart (Helm passes its
// chart.Metadata, so the field names are Helm's).
type Metadata struct {
	APIVersion   string            `yaml:"apiVersion" json:"apiVersion"`
	Name         string            `yaml:"name" json:"name"`
	Version      string            `yaml:"version" json:"version"`
	KubeVersion  string            `yaml:"kubeVersion" json:"kubeVersion,omitempty"`
	Description  string            `yaml:"description" json:"description,omitempty"`
	Type         string            `yaml:"type" json:"type,omitempty"`
	Keywords     []string          `yaml:"keywords" json:"keywords,omitempty"`
	Home         string            `yaml:"home" json:"home,omitempty"`
	Sources      []string          `yaml:"sources" json:"sources,omitempty"`
	Dependencies []interface{}     `yaml:"dependencies" json:"dependencies,omitempty"`
	Maintainers  []*Maintainer     `yaml:"maintainers" json:"maintainers,omitempty"`
	Icon         string            `yaml:"icon" json:"icon,omitempty"`
	AppVersion   string            `yaml:"appVersion" json:"appVersion,omitempty"`
	Deprecated   bool              `yaml:"deprecated" json:"deprecated,omitempty"`
	Annotations  map[string]string `yaml:"annotations" json:"annotations,omitempty"`
	Condition    string            `yaml:"condition" json:"condition,omitempty"`
	Tags         string            `yaml:"tags" json:"tags,omitempty"`
}

// Chart is a loaded chart folder.
type Chart struct {
	Dir       string
	Metadata  *Metadata
	Values    map[string]interface{}
	Templates map[string]string // "<chart>/templates/x.yaml" -> text
	Files     Files             // every other file not ignored, by relative path
}

func (c *Chart) notesName() string { return c.Metadata.Name + "/templates/NOTES.txt" }

func loadChart(dir string) (*Chart, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("chart %s: packaged charts (.tgz) are not supported; pass the chart folder", dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", dir, err)
	}
	md := &Metadata{}
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(md); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: %w", dir, err)
	}
	switch {
	case md.APIVersion != "v2":
		return nil, fmt.Errorf("%s/Chart.yaml: apiVersion %q is not supported by helm-render (only v2)", dir, md.APIVersion)
	case md.Name == "":
		return nil, fmt.Errorf("%s/Chart.yaml: name is required", dir)
	case md.Type == "library":
		return nil, fmt.Errorf("%s/Chart.yaml: library charts are not installable", dir)
	case md.Type != "" && md.Type != "application":
		return nil, fmt.Errorf("%s/Chart.yaml: type %q is not application or library", dir, md.Type)
	case len(md.Dependencies) > 0:
		return nil, fmt.Errorf("%s/Chart.yaml: dependencies (subcharts) are not supported by helm-render", dir)
	}
	if _, err := semver.StrictNewVersion(md.Version); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: version %q is not SemVer 2: %v", dir, md.Version, err)
	}
	for _, unsupported := range []string{"charts", "crds", "values.schema.json", "requirements.yaml", "requirements.lock"} {
		p := filepath.Join(dir, unsupported)
		if st, err := os.Stat(p); err == nil {
			if st.IsDir() {
				if entries, _ := os.ReadDir(p); len(entries) == 0 {
					continue
				}
			}
			return nil, fmt.Errorf("chart %s: %s is not supported by helm-render", dir, unsupported)
		}
	}

	c := &Chart{Dir: dir, Metadata: md, Templates: map[string]string{}, Files: Files{}}
	if raw, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if c.Values, err = parseValues(raw); err != nil {
			return nil, fmt.Errorf("%s/values.yaml: %w", dir, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	} else {
		c.Values = map[string]interface{}{}
	}

	ignore, err := loadHelmignore(filepath.Join(dir, ".helmignore"))
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		isDir := d.IsDir()
		if d.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			isDir = st.IsDir()
			if isDir {
				return fmt.Errorf("chart %s: symlinked folder %s is not supported", dir, rel)
			}
		}
		if ignore.ignored(rel, isDir) {
			if isDir {
				return filepath.SkipDir
			}
			return nil
		}
		if isDir {
			return nil
		}
		switch {
		case rel == "Chart.yaml" || rel == "values.yaml":
			return nil
		case strings.HasPrefix(rel, "templates/"):
			text, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c.Templates[md.Name+"/"+rel] = string(text)
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c.Files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name := range c.Templates {
		base := path.Base(name)
		switch {
		case strings.HasPrefix(base, "_"), strings.HasSuffix(base, ".tpl"):
		case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		case name == c.notesName():
		default:
			return nil, fmt.Errorf("template %s: only .yaml, .yml, .tpl, _partials and NOTES.txt are supported by helm-render", name)
		}
	}
	return c, nil
}

// checkKubeVersion applies Chart.yaml's kubeVersion constraint, as Helm does.
func (c *Chart) checkKubeVersion(caps *Capabilities) error {
	if c.Metadata.KubeVersion == "" {
		return nil
	}
	constraint, err := semver.NewConstraint(c.Metadata.KubeVersion)
	if err != nil {
		return fmt.Errorf("Chart.yaml: kubeVersion %q: %v", c.Metadata.KubeVersion, err)
	}
	v, err := semver.NewVersion(caps.KubeVersion.Version)
	if err != nil {
		return err
	}
	if !constraint.Check(v) {
		return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
			c.Metadata.KubeVersion, caps.KubeVersion.Version)
	}
	return nil
}

// helmignore holds .helmignore's rules: last match wins, "!" negates, a
// trailing "/" matches folders only, a rule without "/" matches a base name
// at any depth. Like Helm, "**" is refused.
type helmignore []ignoreRule

type ignoreRule struct {
	pattern string
	negate  bool
	dirOnly bool
	byPath  bool
}

func loadHelmignore(file string) (helmignore, error) {
	raw, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rules helmignore
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.Contains(line, "**") {
			return nil, fmt.Errorf(".helmignore:%d: ** is not supported (nor by Helm)", n+1)
		}
		r := ignoreRule{}
		if strings.HasPrefix(line, "!") {
			r.negate, line = true, line[1:]
		}
		if strings.HasSuffix(line, "/") {
			r.dirOnly, line = true, strings.TrimSuffix(line, "/")
		}
		line = strings.TrimPrefix(line, "/")
		r.byPath = strings.Contains(line, "/")
		if _, err := path.Match(line, ""); err != nil {
			return nil, fmt.Errorf(".helmignore:%d: %v", n+1, err)
		}
		r.pattern = line
		rules = append(rules, r)
	}
	return rules, nil
}

func (h helmignore) ignored(rel string, isDir bool) bool {
	if rel == "Chart.yaml" {
		return false // Helm never ignores the chart's own metadata.
	}
	ignored := false
	for _, r := range h {
		if r.dirOnly && !isDir {
			continue
		}
		subject := path.Base(rel)
		if r.byPath {
			subject = rel
		}
		if ok, _ := path.Match(r.pattern, subject); ok {
			ignored = !r.negate
		}
	}
	return ignored
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
