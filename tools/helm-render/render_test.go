package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// writeChart makes a chart folder from path -> contents; Chart.yaml gets a
// default when absent.
func writeChart(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if files == nil {
		files = map[string]string{}
	}
	if _, ok := files["Chart.yaml"]; !ok {
		files["Chart.yaml"] = "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n"
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runRender(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(args, &out)
	return out.String(), err
}

func mustRender(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runRender(t, args...)
	if err != nil {
		t.Fatalf("render %v: %v", args, err)
	}
	return out
}

func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestParseSetTypesLikeHelm(t *testing.T) {
	got := map[string]interface{}{}
	for _, s := range []string{
		"a.b=1,a.c=true,a.d=null,a.e=0.5,a.f=007,a.g=",
		`list={x,y,3},esc=a\,b,dot\.ted=1`,
		"items[1].name=two,items[0]=first",
	} {
		if err := parseSet(s, got, true); err != nil {
			t.Fatalf("parseSet(%q): %v", s, err)
		}
	}
	want := map[string]interface{}{
		"a": map[string]interface{}{
			"b": int64(1), "c": true, "d": nil, "e": "0.5", "f": "007", "g": "",
		},
		"list":    []interface{}{"x", "y", int64(3)},
		"esc":     "a,b",
		"dot.ted": int64(1),
		"items":   []interface{}{"first", map[string]interface{}{"name": "two"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}

	strs := map[string]interface{}{}
	if err := parseSet("n=1,b=true", strs, false); err != nil {
		t.Fatal(err)
	}
	if strs["n"] != "1" || strs["b"] != "true" {
		t.Errorf("--set-string typed its values: %#v", strs)
	}
	if err := parseSet("novalue", map[string]interface{}{}, true); err == nil {
		t.Error("a key without a value was accepted")
	}
}

func TestValuesMergeOrderAndNullDeletes(t *testing.T) {
	dir := t.TempDir()
	f1 := filepath.Join(dir, "one.yaml")
	f2 := filepath.Join(dir, "two.yaml")
	os.WriteFile(f1, []byte("a: {x: 1, y: 2}\nb: file1\n"), 0o644)
	os.WriteFile(f2, []byte("a: {y: 3, z: null}\nb: file2\n"), 0o644)
	defaults := map[string]interface{}{
		"a": map[string]interface{}{"x": 0.0, "y": 0.0, "z": 9.0}, "b": "default", "c": "kept",
	}
	got, err := buildValues(defaults, []string{f1, f2}, []string{"b=set"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]interface{}{
		"a": map[string]interface{}{"x": 1.0, "y": 3.0}, "b": "set", "c": "kept",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	if _, err := buildValues(defaults, nil, []string{"a=scalar"}, nil); err == nil {
		t.Error("a scalar over a table was accepted")
	}
}

func TestRendersManifestsSortedByKindWithSources(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml":            "replicas: 2\nname: web\n",
		"templates/_helpers.tpl": `{{- define "demo.name" -}}{{ .Release.Name }}-{{ .Values.name }}{{- end -}}`,
		"templates/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "demo.name" . }}
spec:
  replicas: {{ .Values.replicas }}
`,
		"templates/svc.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ include "demo.name" . }}
---
# only a comment
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "demo.name" . }}
`,
		"templates/NOTES.txt": "Hello {{ .Release.Name }} in {{ .Release.Namespace }}.\n",
	})
	out := mustRender(t, "rel", dir, "-n", "ns")
	want := `---
# Source: demo/templates/svc.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: rel-web
---
# Source: demo/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: rel-web
---
# Source: demo/templates/deploy.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rel-web
spec:
  replicas: 2
`
	if out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
	if notes := mustRender(t, "rel", dir, "-n", "ns", "--notes"); notes != "Hello rel in ns.\n" {
		t.Errorf("notes: %q", notes)
	}
	only := mustRender(t, "rel", dir, "--show-only", "templates/deploy.yaml")
	if strings.Contains(only, "kind: Service") || !strings.Contains(only, "kind: Deployment") {
		t.Errorf("--show-only rendered:\n%s", only)
	}
}

func TestHelmFunctionsAndObjects(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"values.yaml":     "big: 1000000\nlabels: {b: \"2\", a: \"on\"}\ntext: \"{{ .Release.Name }}-tpl\"\nlist: [x, y]\n",
		"files/conf.ini":  "k=v\nz=1\n",
		"files/other.txt": "o\n",
		".helmignore":     "*.bak\n",
		"files/skip.bak":  "ignored\n",
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm
data:
  big: {{ .Values.big | quote }}
  bigInt: {{ int64 .Values.big | quote }}
  labels: {{ toYaml .Values.labels | quote }}
  json: {{ toJson .Values.list | quote }}
  fromYaml: {{ (fromYaml "a: 1").a | quote }}
  fromYamlErr: {{ hasKey (fromYaml "a: [") "Error" | quote }}
  tpl: {{ tpl .Values.text . | quote }}
  lookup: {{ lookup "v1" "Secret" "ns" "x" | len | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  minor: {{ .Capabilities.KubeVersion.Minor | quote }}
  hasApps: {{ .Capabilities.APIVersions.Has "apps/v1" | quote }}
  hasMon: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  chart: {{ printf "%s-%s-%s" .Chart.Name .Chart.Version .Chart.AppVersion | quote }}
  release: {{ printf "%s/%s/%s/%v/%v" .Release.Name .Release.Namespace .Release.Service .Release.IsInstall .Release.IsUpgrade | quote }}
  template: {{ .Template.Name | quote }}
  base: {{ .Template.BasePath | quote }}
  file: {{ .Files.Get "files/conf.ini" | quote }}
  lines: {{ .Files.Lines "files/conf.ini" | len | quote }}
  glob: {{ .Files.Glob "files/*" | len | quote }}
  missing: "[{{ .Values.nothing }}]"
  semver: {{ semverCompare ">=1.25.0-0" .Capabilities.KubeVersion.Version | quote }}
`,
	})
	out := mustRender(t, "rel", dir, "--kube-version", "1.29.3", "-a", "monitoring.coreos.com/v1")
	for _, want := range []string{
		`big: "1e+06"`, // Helm's float64 values print like this; int64 fixes it
		`bigInt: "1000000"`,
		`labels: "a: \"on\"\nb: \"2\""`,
		`json: "[\"x\",\"y\"]"`,
		`fromYaml: "1"`,
		`fromYamlErr: "true"`,
		`tpl: "rel-tpl"`,
		`lookup: "0"`,
		`kube: "v1.29.3"`,
		`minor: "29"`,
		`hasApps: "true"`,
		`hasMon: "true"`,
		`chart: "demo-1.2.3-4.5"`,
		`release: "rel/default/Helm/true/false"`,
		`template: "demo/templates/cm.yaml"`,
		`base: "demo/templates"`,
		`file: "k=v\nz=1\n"`,
		`lines: "2"`,
		`glob: "2"`, // skip.bak is ignored by .helmignore
		`missing: "[]"`,
		`semver: "true"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestRequiredAndFailNameTheTemplate(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"templates/a.yaml": "x: {{ required \"image.tag is required\" .Values.image }}\n",
	})
	_, err := runRender(t, dir)
	wantError(t, err, "demo/templates/a.yaml", "required", "image.tag is required")
}

func TestUnsupportedThingsFailLoudly(t *testing.T) {
	for name, tc := range map[string]struct {
		files map[string]string
		args  []string
		parts []string
	}{
		"env is removed as in Helm": {
			files: map[string]string{"templates/a.yaml": "x: {{ env \"HOME\" }}\n"},
			parts: []string{"demo/templates/a.yaml", `function "env" not defined`},
		},
		"unknown function": {
			files: map[string]string{"templates/a.yaml": "x: {{ frobnicate 1 }}\n"},
			parts: []string{"demo/templates/a.yaml", `"frobnicate"`},
		},
		"toToml": {
			files: map[string]string{"templates/a.yaml": "x: {{ toToml .Values }}\n"},
			parts: []string{"demo/templates/a.yaml", "toToml", "not supported by helm-render"},
		},
		"HelmVersion": {
			files: map[string]string{"templates/a.yaml": "x: {{ .Capabilities.HelmVersion }}\n"},
			parts: []string{"demo/templates/a.yaml", "HelmVersion"},
		},
		"unknown Release field": {
			files: map[string]string{"templates/a.yaml": "x: {{ .Release.Time }}\n"},
			parts: []string{"demo/templates/a.yaml", "Time"},
		},
		"subcharts": {
			files: map[string]string{"charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 1.0.0\n"},
			parts: []string{"charts", "not supported"},
		},
		"dependencies": {
			files: map[string]string{"Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.0.0\ndependencies:\n  - name: x\n"},
			parts: []string{"dependencies", "not supported"},
		},
		"values schema": {
			files: map[string]string{"values.schema.json": "{}"},
			parts: []string{"values.schema.json", "not supported"},
		},
		"kubeVersion constraint": {
			files: map[string]string{"Chart.yaml": "apiVersion: v2\nname: demo\nversion: 1.0.0\nkubeVersion: \">=1.30.0-0\"\n"},
			parts: []string{"kubeVersion", "v1.28.0"},
		},
		"invalid YAML output": {
			files: map[string]string{"templates/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"},
			parts: []string{"YAML parse error on demo/templates/a.yaml"},
		},
		"document without kind": {
			files: map[string]string{"templates/a.yaml": "apiVersion: v1\nmetadata: {name: x}\n"},
			parts: []string{"demo/templates/a.yaml", "kind are required"},
		},
		"strict mode": {
			files: map[string]string{"templates/a.yaml": "x: {{ .Values.absent }}\n"},
			args:  []string{"--strict"},
			parts: []string{"demo/templates/a.yaml", "absent"},
		},
		"set-file": {
			args:  []string{"--set-file", "a=b"},
			parts: []string{"--set-file", "not supported"},
		},
		"unknown template extension": {
			files: map[string]string{"templates/a.json": "{}"},
			parts: []string{"demo/templates/a.json", "supported"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeChart(t, tc.files)
			_, err := runRender(t, append(append([]string{}, tc.args...), dir)...)
			wantError(t, err, tc.parts...)
		})
	}
}

func TestIncludeRecursionIsBounded(t *testing.T) {
	dir := writeChart(t, map[string]string{
		"templates/_loop.tpl": `{{- define "loop" -}}{{ include "loop" . }}{{- end -}}`,
		"templates/a.yaml":    "x: {{ include \"loop\" . }}\n",
	})
	_, err := runRender(t, dir)
	wantError(t, err, "nested reference", "loop")
}

func TestToYamlMatchesHelm(t *testing.T) {
	got, err := toYAML(map[string]interface{}{
		"z": []interface{}{map[string]interface{}{"b": 1.0, "a": "x"}},
		"a": map[string]interface{}{"n": 1000000.0, "s": "true", "e": map[string]interface{}{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// "n" is quoted: YAML 1.1, which Kubernetes reads, takes n for false.
	want := "a:\n  e: {}\n  \"n\": 1000000\n  s: \"true\"\nz:\n- a: x\n  b: 1"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestCommandLineErrorsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"a", "b", "c"}, {"--bogus", "x"}, {"--set"}} {
		_, err := runRender(t, args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
	if _, err := runRender(t, "--help"); !errors.Is(err, errHelp) {
		t.Errorf("--help: %v", err)
	}
}
