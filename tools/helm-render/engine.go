package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	yamlv2 "gopkg.in/yaml.v2"
	"gopkg.in/yaml.v3"
)

// Release is .Release. A struct, not Helm's map, so that a field Helm has
// and this renderer lacks fails loudly instead of rendering empty.
type Release struct {
	Name      string
	Namespace string
	Service   string
	IsInstall bool
	IsUpgrade bool
	Revision  int
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string { return k.Version }

// GitVersion is Helm's deprecated spelling of Version.
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether an API group/version (or group/version/Kind) exists.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities. There is no HelmVersion: this is not Helm,
// and a chart that branches on Helm's version fails here, loudly.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// builtinAPIVersions are the GA group/versions a Kubernetes 1.25+ API server
// serves; --api-versions adds others (for example monitoring.coreos.com/v1).
var builtinAPIVersions = []string{
	"v1",
	"admissionregistration.k8s.io/v1",
	"apiextensions.k8s.io/v1",
	"apiregistration.k8s.io/v1",
	"apps/v1",
	"authentication.k8s.io/v1",
	"authorization.k8s.io/v1",
	"autoscaling/v1",
	"autoscaling/v2",
	"batch/v1",
	"certificates.k8s.io/v1",
	"coordination.k8s.io/v1",
	"discovery.k8s.io/v1",
	"events.k8s.io/v1",
	"networking.k8s.io/v1",
	"node.k8s.io/v1",
	"policy/v1",
	"rbac.authorization.k8s.io/v1",
	"scheduling.k8s.io/v1",
	"storage.k8s.io/v1",
}

func newCapabilities(kubeVersion string, extra []string) (*Capabilities, error) {
	v, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return nil, fmt.Errorf("--kube-version %q: %v", kubeVersion, err)
	}
	caps := &Capabilities{
		KubeVersion: KubeVersion{
			Version: "v" + v.String(),
			Major:   fmt.Sprint(v.Major()),
			Minor:   fmt.Sprint(v.Minor()),
		},
	}
	caps.APIVersions = append(VersionSet{}, builtinAPIVersions...)
	caps.APIVersions = append(caps.APIVersions, extra...)
	return caps, nil
}

// TemplateInfo is .Template.
type TemplateInfo struct {
	Name     string
	BasePath string
}

// Files is .Files: the chart's files other than Chart.yaml, values.yaml and
// templates/, less .helmignore's.
type Files map[string][]byte

// Get returns a file's contents, or "" when there is no such file.
func (f Files) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's contents as bytes.
func (f Files) GetBytes(name string) []byte { return f[name] }

// Lines returns a file's lines.
func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// Glob returns the files whose paths match a pattern: * and ? stay inside a
// folder, ** crosses folders, {a,b} is either.
func (f Files) Glob(pattern string) (Files, error) {
	re, err := globRegexp(pattern)
	if err != nil {
		return nil, err
	}
	out := Files{}
	for name, data := range f {
		if re.MatchString(name) {
			out[name] = data
		}
	}
	return out, nil
}

// AsConfig renders the files as ConfigMap data: base name to contents.
func (f Files) AsConfig() (string, error) {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = string(data)
	}
	return toYAML(m)
}

// AsSecrets renders the files as Secret data: base name to base64.
func (f Files) AsSecrets() (string, error) {
	m := map[string]string{}
	for name, data := range f {
		m[path.Base(name)] = base64.StdEncoding.EncodeToString(data)
	}
	return toYAML(m)
}

func globRegexp(pattern string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	inBraces := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		case c == '{' && !inBraces:
			b.WriteString("(?:")
			inBraces = true
		case c == '}' && inBraces:
			b.WriteString(")")
			inBraces = false
		case c == ',' && inBraces:
			b.WriteString("|")
		case c == '[':
			end := strings.IndexByte(pattern[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("Glob %q: unmatched [", pattern)
			}
			class := pattern[i+1 : i+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += end
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteString(regexp.QuoteMeta(string(pattern[i])))
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	if inBraces {
		return nil, fmt.Errorf("Glob %q: unmatched {", pattern)
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Helm's limit on nested include/tpl of one name.
const maxRecursion = 1000

type engine struct {
	strict   bool
	includes map[string]int
}

// funcs returns sprig's functions without env and expandenv (Helm removes
// them), plus Helm's, with include and tpl bound to the template set t.
func (e *engine) funcs(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["mustToYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["mustToJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromJsonArray"] = fromJSONArray
	f["toToml"] = func(interface{}) (string, error) {
		return "", errors.New("toToml is not supported by helm-render")
	}
	f["required"] = required
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		// 'helm template' has no cluster either: lookup finds nothing.
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		return e.include(t, name, data)
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		return e.tpl(t, text, data)
	}
	return f
}

func (e *engine) option() string {
	if e.strict {
		return "missingkey=error"
	}
	return "missingkey=zero"
}

func (e *engine) include(t *template.Template, name string, data interface{}) (string, error) {
	if e.includes[name] >= maxRecursion {
		return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
	}
	e.includes[name]++
	defer func() { e.includes[name]-- }()
	if t.Lookup(name) == nil {
		return "", fmt.Errorf("no template %q defined", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func (e *engine) tpl(t *template.Template, text string, data interface{}) (string, error) {
	name := "tpl"
	if top, ok := data.(map[string]interface{}); ok {
		if info, ok := top["Template"].(TemplateInfo); ok {
			name = info.Name
		}
	}
	key := "tpl:" + name
	if e.includes[key] >= maxRecursion {
		return "", fmt.Errorf("rendering template has a nested reference name: %s", key)
	}
	e.includes[key]++
	defer func() { e.includes[key]-- }()
	clone, err := t.Clone()
	if err != nil {
		return "", err
	}
	clone.Option(e.option())
	clone.Funcs(e.funcs(clone))
	parsed, err := clone.New(name).Parse(text)
	if err != nil {
		return "", fmt.Errorf("cannot parse template %q: %w", text, err)
	}
	var buf bytes.Buffer
	if err := parsed.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
	}
	return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
}

func required(msg string, v interface{}) (interface{}, error) {
	if v == nil {
		return v, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return v, errors.New(msg)
	}
	return v, nil
}

// toYAML is Helm's toYaml: sigs.k8s.io/yaml's way, JSON then yaml.v2, so
// keys are sorted and strings YAML 1.1 would read as something else ("on",
// "yes", "1") are quoted; no final newline. Unlike Helm it reports a value it
// cannot marshal instead of rendering "".
func toYAML(v interface{}) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toYaml: %v", err)
	}
	var obj interface{}
	if err := yamlv2.Unmarshal(data, &obj); err != nil {
		return "", fmt.Errorf("toYaml: %v", err)
	}
	out, err := yamlv2.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("toYaml: %v", err)
	}
	return strings.TrimSuffix(string(out), "\n"), nil
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	var doc interface{}
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		m["Error"] = err.Error()
		return m
	}
	v, err := jsonTypes(doc)
	if err != nil {
		m["Error"] = err.Error()
		return m
	}
	if out, ok := v.(map[string]interface{}); ok {
		return out
	}
	if v != nil {
		m["Error"] = fmt.Sprintf("fromYaml: want a mapping, got %T", v)
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	var doc interface{}
	if err := yaml.Unmarshal([]byte(s), &doc); err != nil {
		return []interface{}{err.Error()}
	}
	v, err := jsonTypes(doc)
	if err != nil {
		return []interface{}{err.Error()}
	}
	if out, ok := v.([]interface{}); ok {
		return out
	}
	return []interface{}{fmt.Sprintf("fromYamlArray: want a sequence, got %T", v)}
}

func toJSON(v interface{}) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("toJson: %v", err)
	}
	return string(data), nil
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	var a []interface{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		return []interface{}{err.Error()}
	}
	return a
}

var undefinedFunction = regexp.MustCompile(`function "([^"]+)" not defined`)

// render executes every template of the chart (partials only define) and
// returns the output of each non-partial by name, NOTES.txt included.
func render(c *Chart, values map[string]interface{}, release Release, caps *Capabilities, strict bool) (map[string]string, error) {
	e := &engine{strict: strict, includes: map[string]int{}}
	root := template.New("gotpl")
	root.Option(e.option())
	root.Funcs(e.funcs(root))
	for _, name := range sortedKeys(c.Templates) {
		if _, err := root.New(name).Parse(c.Templates[name]); err != nil {
			if m := undefinedFunction.FindStringSubmatch(err.Error()); m != nil {
				return nil, fmt.Errorf("%v (helm-render has sprig's functions less env and expandenv, "+
					"and Helm's include, tpl, required, toYaml, fromYaml, fromYamlArray, toJson, "+
					"fromJson, fromJsonArray and lookup; %q is none of them)", err, m[1])
			}
			return nil, err
		}
	}
	out := map[string]string{}
	for _, name := range sortedKeys(c.Templates) {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.HasSuffix(base, ".tpl") {
			continue
		}
		top := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        c.Metadata,
			"Capabilities": caps,
			"Files":        c.Files,
			"Subcharts":    map[string]interface{}{},
			"Template":     TemplateInfo{Name: name, BasePath: c.Metadata.Name + "/templates"},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, top); err != nil {
			return nil, err
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}
