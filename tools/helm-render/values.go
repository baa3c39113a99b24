package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// parseValues reads a values document the way Helm does (sigs.k8s.io/yaml:
// YAML to JSON to Go), so numbers are float64 and keys are strings, exactly
// the types a chart's templates see under Helm.
func parseValues(raw []byte) (map[string]interface{}, error) {
	var doc interface{}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return map[string]interface{}{}, nil
	}
	v, err := jsonTypes(doc)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("a values document must be a mapping, not %T", v)
	}
	return m, nil
}

// jsonTypes turns a decoded YAML value into what encoding/json would decode
// from the same document: map[string]interface{}, []interface{}, float64,
// string, bool, nil.
func jsonTypes(v interface{}) (interface{}, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON (Helm's values model): %v", err)
	}
	var out interface{}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// buildValues merges, in Helm's order: values.yaml, each -f file, then the
// --set and --set-string flags. A null in a later source deletes the key.
func buildValues(defaults map[string]interface{}, files, sets, setStrings []string) (map[string]interface{}, error) {
	user := map[string]interface{}{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("values: %w", err)
		}
		m, err := parseValues(raw)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		if err := mergeInto(user, m, "", false); err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
	}
	for _, group := range []struct {
		flag  string
		list  []string
		typed bool
	}{{"--set", sets, true}, {"--set-string", setStrings, false}} {
		for _, s := range group.list {
			if err := parseSet(s, user, group.typed); err != nil {
				return nil, usageError{fmt.Sprintf("%s %q: %v", group.flag, s, err)}
			}
		}
	}
	out := deepCopy(defaults).(map[string]interface{})
	if err := mergeInto(out, user, "", true); err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	return out, nil
}

// mergeInto merges src over dst. Tables merge key by key; anything else
// replaces. With dropNulls a null deletes the key (Helm's coalescing);
// without it the null is kept so that a later merge can delete. A table
// meeting a non-table is an error here, where Helm would warn and guess.
func mergeInto(dst, src map[string]interface{}, prefix string, dropNulls bool) error {
	for _, k := range sortedKeys(src) {
		sv := src[k]
		full := prefix + k
		if sv == nil {
			if dropNulls {
				delete(dst, k)
			} else {
				dst[k] = nil
			}
			continue
		}
		dv, exists := dst[k]
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dv.(map[string]interface{})
		switch {
		case !exists || dv == nil:
			if sIsMap && dropNulls {
				fresh := map[string]interface{}{}
				if err := mergeInto(fresh, sm, full+".", true); err != nil {
					return err
				}
				dst[k] = fresh
			} else {
				dst[k] = deepCopy(sv)
			}
		case sIsMap && dIsMap:
			if err := mergeInto(dm, sm, full+".", dropNulls); err != nil {
				return err
			}
		case sIsMap != dIsMap:
			return fmt.Errorf("key %s: cannot merge a table with a non-table (%T over %T)", full, sv, dv)
		default:
			dst[k] = deepCopy(sv)
		}
	}
	return nil
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

// parseSet applies one --set argument ("a.b=1,c[0].d=x,e={p,q}") to dst, as
// Helm's strvals does. typed turns "true"/"false" into bools, "null" into
// null and decimal integers into int64; Helm leaves floats as strings.
func parseSet(s string, dst map[string]interface{}, typed bool) error {
	for _, pair := range splitUnescaped(s, ',', true) {
		if pair == "" {
			continue
		}
		eq := indexUnescaped(pair, '=')
		if eq < 0 {
			return fmt.Errorf("key %q has no value (want key=value)", unescape(pair))
		}
		key, raw := pair[:eq], pair[eq+1:]
		var value interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			items := []interface{}{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				items = append(items, typedValue(unescape(item), typed))
			}
			value = items
		} else {
			value = typedValue(unescape(raw), typed)
		}
		path, err := parseSetKey(key)
		if err != nil {
			return err
		}
		if err := setPath(dst, path, value); err != nil {
			return err
		}
	}
	return nil
}

func typedValue(s string, typed bool) interface{} {
	if !typed {
		return s
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "0":
		return int64(0)
	}
	if !strings.HasPrefix(s, "0") && !strings.HasPrefix(s, "+") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	return s
}

// A key segment: a name, then any number of list indexes.
type keySegment struct {
	name    string
	indexes []int
}

func parseSetKey(key string) ([]keySegment, error) {
	var out []keySegment
	for _, part := range splitUnescaped(key, '.', false) {
		seg := keySegment{}
		name := part
		for strings.HasSuffix(name, "]") {
			open := strings.LastIndex(name, "[")
			if open < 0 {
				return nil, fmt.Errorf("key %q: unmatched ]", key)
			}
			idx, err := strconv.Atoi(name[open+1 : len(name)-1])
			if err != nil || idx < 0 {
				return nil, fmt.Errorf("key %q: bad list index %q", key, name[open+1:len(name)-1])
			}
			if idx > 65536 {
				return nil, fmt.Errorf("key %q: list index %d is too large", key, idx)
			}
			seg.indexes = append([]int{idx}, seg.indexes...)
			name = name[:open]
		}
		seg.name = unescape(name)
		if seg.name == "" {
			return nil, fmt.Errorf("key %q: empty name", key)
		}
		out = append(out, seg)
	}
	return out, nil
}

func setPath(m map[string]interface{}, path []keySegment, value interface{}) error {
	seg := path[0]
	if len(seg.indexes) == 0 {
		if len(path) == 1 {
			m[seg.name] = value
			return nil
		}
		child, ok := m[seg.name].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			m[seg.name] = child
		}
		return setPath(child, path[1:], value)
	}
	list, _ := m[seg.name].([]interface{})
	list, err := setInList(list, seg.indexes, path[1:], value)
	if err != nil {
		return err
	}
	m[seg.name] = list
	return nil
}

func setInList(list []interface{}, indexes []int, rest []keySegment, value interface{}) ([]interface{}, error) {
	i := indexes[0]
	for len(list) <= i {
		list = append(list, nil)
	}
	switch {
	case len(indexes) > 1:
		inner, _ := list[i].([]interface{})
		inner, err := setInList(inner, indexes[1:], rest, value)
		if err != nil {
			return nil, err
		}
		list[i] = inner
	case len(rest) == 0:
		list[i] = value
	default:
		child, ok := list[i].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			list[i] = child
		}
		if err := setPath(child, rest, value); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// splitUnescaped splits at sep not preceded by a backslash; with braces it
// does not split inside {...}. Escapes are kept for unescape.
func splitUnescaped(s string, sep byte, braces bool) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case braces && c == '{':
			depth++
		case braces && c == '}' && depth > 0:
			depth--
		case c == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func indexUnescaped(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == c {
			return i
		}
	}
	return -1
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
