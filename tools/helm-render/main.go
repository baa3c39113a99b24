// Command helm-render renders a Helm chart the way `helm template` does, on
// machines without Helm (Debian 12 does not package it). It is Go's
// text/template with Debian's sprig plus Helm's own functions and objects;
// anything it does not implement makes it exit non-zero with a message that
// names the template and the function, never a silently different output.
//
// Usage: helm-render [flags] [NAME] CHART
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `helm-render renders a Helm chart like 'helm template', without Helm.

Usage: helm-render [flags] [NAME] CHART

NAME is the release name (default "release-name"); CHART is the chart folder.
Manifests go to standard output, each after "---" and "# Source: <template>".

Flags:
  -f, --values FILE        merge a values file over values.yaml (repeatable;
                           later files win)
      --set K=V[,K=V]      set values on the command line (repeatable; wins
                           over files); typed like Helm: ints, true/false, null
      --set-string K=V     like --set, every value a string
  -n, --namespace NS       .Release.Namespace (default "default")
      --kube-version V     .Capabilities.KubeVersion (default v1.28.0)
  -a, --api-versions GV    add to .Capabilities.APIVersions (repeatable)
  -s, --show-only PATH     render only this template, e.g. templates/x.yaml
                           (repeatable)
      --notes              print the rendered NOTES.txt instead of manifests
      --strict             a missing value is an error (missingkey=error)
      --is-upgrade         .Release.IsUpgrade true, IsInstall false
  -h, --help               this text

Not supported, and refused loudly: subcharts (dependencies, charts/), crds/,
values.schema.json, --set-file, --set-json, the toToml function, a cluster
(lookup returns an empty map, as in 'helm template').
`

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type options struct {
	releaseName string
	chartDir    string
	valueFiles  []string
	sets        []string
	setStrings  []string
	namespace   string
	kubeVersion string
	apiVersions []string
	showOnly    []string
	notes       bool
	strict      bool
	isUpgrade   bool
}

func parseArgs(args []string) (options, error) {
	o := options{releaseName: "release-name", namespace: "default", kubeVersion: "v1.28.0"}
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		takeValue := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) {
				return "", usageError{fmt.Sprintf("flag %s needs a value", name)}
			}
			i++
			return args[i], nil
		}
		noValue := func() error {
			if hasValue {
				return usageError{fmt.Sprintf("flag %s takes no value", name)}
			}
			return nil
		}
		var err error
		var v string
		switch name {
		case "-f", "--values":
			v, err = takeValue()
			o.valueFiles = append(o.valueFiles, v)
		case "--set":
			v, err = takeValue()
			o.sets = append(o.sets, v)
		case "--set-string":
			v, err = takeValue()
			o.setStrings = append(o.setStrings, v)
		case "-n", "--namespace":
			o.namespace, err = takeValue()
		case "--kube-version":
			o.kubeVersion, err = takeValue()
		case "-a", "--api-versions":
			v, err = takeValue()
			for _, gv := range strings.Split(v, ",") {
				if gv = strings.TrimSpace(gv); gv != "" {
					o.apiVersions = append(o.apiVersions, gv)
				}
			}
		case "-s", "--show-only":
			v, err = takeValue()
			o.showOnly = append(o.showOnly, v)
		case "--notes":
			err = noValue()
			o.notes = true
		case "--strict":
			err = noValue()
			o.strict = true
		case "--is-upgrade":
			err = noValue()
			o.isUpgrade = true
		case "-h", "--help":
			return o, errHelp
		case "--set-file", "--set-json", "--include-crds", "--post-renderer", "--dependency-update":
			return o, usageError{fmt.Sprintf("flag %s is not supported by helm-render", name)}
		default:
			return o, usageError{fmt.Sprintf("unknown flag %s (see --help)", name)}
		}
		if err != nil {
			return o, err
		}
	}
	switch len(positional) {
	case 1:
		o.chartDir = positional[0]
	case 2:
		o.releaseName, o.chartDir = positional[0], positional[1]
	default:
		return o, usageError{"expected [NAME] CHART (see --help)"}
	}
	return o, nil
}

var errHelp = errors.New("help")

func run(args []string, stdout io.Writer) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	chart, err := loadChart(o.chartDir)
	if err != nil {
		return err
	}
	caps, err := newCapabilities(o.kubeVersion, o.apiVersions)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := chart.checkKubeVersion(caps); err != nil {
		return err
	}
	values, err := buildValues(chart.Values, o.valueFiles, o.sets, o.setStrings)
	if err != nil {
		return err
	}
	release := Release{
		Name: o.releaseName, Namespace: o.namespace, Service: "Helm",
		IsInstall: !o.isUpgrade, IsUpgrade: o.isUpgrade, Revision: 1,
	}
	rendered, err := render(chart, values, release, caps, o.strict)
	if err != nil {
		return err
	}
	if o.notes {
		notes, ok := rendered[chart.notesName()]
		if !ok {
			return fmt.Errorf("%s has no templates/NOTES.txt", chart.Metadata.Name)
		}
		_, err := io.WriteString(stdout, notes)
		return err
	}
	delete(rendered, chart.notesName())
	if len(o.showOnly) > 0 {
		kept := map[string]string{}
		for _, want := range o.showOnly {
			name := chart.Metadata.Name + "/" + strings.TrimPrefix(want, "./")
			text, ok := rendered[name]
			if !ok {
				return usageError{fmt.Sprintf("--show-only %s: no such template in the chart", want)}
			}
			kept[name] = text
		}
		rendered = kept
	}
	manifests, err := splitAndSort(rendered)
	if err != nil {
		return err
	}
	return writeManifests(stdout, manifests)
}

func main() {
	err := run(os.Args[1:], os.Stdout)
	switch {
	case err == nil:
		return
	case errors.Is(err, errHelp):
		fmt.Print(usage)
		return
	}
	fmt.Fprintf(os.Stderr, "helm-render: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
