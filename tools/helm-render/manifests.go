package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is one YAML document from one template.
type Manifest struct {
	Source string // "<chart>/templates/x.yaml"
	Kind   string
	Name   string
	Text   string
}

// Helm's document separator (releaseutil.SplitManifests).
var documentSeparator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// installOrder is Helm's releaseutil.InstallOrder: the order 'helm install'
// creates kinds in, and the order 'helm template' prints them.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

// splitAndSort splits each template's output into documents, checks each is
// a Kubernetes object (a mapping with apiVersion and kind), and orders them
// as Helm does: by install order of the kind, then by template.
func splitAndSort(rendered map[string]string) ([]Manifest, error) {
	var out []Manifest
	for _, source := range sortedKeys(rendered) {
		text := strings.TrimSpace(rendered[source])
		for n, doc := range documentSeparator.Split(text, -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var head struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Metadata   struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			var parsed interface{}
			if err := yaml.Unmarshal([]byte(doc), &parsed); err != nil {
				return nil, fmt.Errorf("YAML parse error on %s (document %d): %v\n%s", source, n+1, err, numbered(doc))
			}
			if parsed == nil {
				continue // only comments
			}
			if _, ok := parsed.(map[string]interface{}); !ok {
				return nil, fmt.Errorf("%s (document %d): not a mapping but %T\n%s", source, n+1, parsed, numbered(doc))
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return nil, fmt.Errorf("%s (document %d): %v", source, n+1, err)
			}
			if head.APIVersion == "" || head.Kind == "" {
				return nil, fmt.Errorf("%s (document %d): apiVersion and kind are required\n%s", source, n+1, numbered(doc))
			}
			out = append(out, Manifest{Source: source, Kind: head.Kind, Name: head.Metadata.Name, Text: doc})
		}
	}
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ra, aok := rank[a.Kind]
		rb, bok := rank[b.Kind]
		switch {
		case !aok && !bok:
			if a.Kind != b.Kind {
				return a.Kind < b.Kind
			}
			return a.Source < b.Source
		case !aok:
			return false
		case !bok:
			return true
		case ra != rb:
			return ra < rb
		}
		return a.Source < b.Source
	})
	return out, nil
}

func writeManifests(w io.Writer, manifests []Manifest) error {
	for _, m := range manifests {
		if _, err := fmt.Fprintf(w, "---\n# Source: %s\n%s\n", m.Source, m.Text); err != nil {
			return err
		}
	}
	return nil
}

// numbered prefixes each line with its number, for error messages.
func numbered(doc string) string {
	var b strings.Builder
	for i, line := range strings.Split(doc, "\n") {
		fmt.Fprintf(&b, "%4d | %s\n", i+1, line)
	}
	return b.String()
}
