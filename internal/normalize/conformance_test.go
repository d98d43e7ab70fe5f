package normalize

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/defender-intake/defender-intake/internal/testenv"
)

// TestReferenceConformance runs the reference intake's own test cases
// (../shared/conformance/sekoia, absent from a fresh clone) with the
// comparison rules of ../shared/tools/conformance.py: lists compared as
// sorted, a few bookkeeping keys ignored, everything else equal.
func TestReferenceConformance(t *testing.T) {
	dir := testenv.SharedDir(t, "conformance/sekoia")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no cases in %s", dir)
	}
	n := New(Options{Now: func() time.Time { return time.Unix(0, 0) }})
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			var tc struct {
				Input    struct{ Message string }
				Expected map[string]any
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &tc); err != nil {
				t.Fatal(err)
			}
			out, _, err := n.Append(nil, []byte(tc.Input.Message))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			g, w := flattenForCompare(got), flattenForCompare(tc.Expected)
			for k, wv := range w {
				gv, ok := g[k]
				switch {
				case !ok:
					t.Errorf("missing %s = %s", k, wv)
				case gv != wv:
					t.Errorf("different %s: want %s, got %s", k, wv, gv)
				}
			}
			for k, gv := range g {
				if _, ok := w[k]; !ok {
					t.Errorf("extra %s = %s", k, gv)
				}
			}
		})
	}
}

var ignoredInConformance = []string{"message", "event.id", "event.original", "event.ingested",
	"event.created", "ecs", "sekoiaio", "data_stream"}

// flattenForCompare maps dotted keys to canonical JSON of their values,
// with lists sorted, leaving out the keys the reference suite ignores.
func flattenForCompare(doc map[string]any) map[string]string {
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		for _, ig := range ignoredInConformance {
			if prefix == ig || strings.HasPrefix(prefix, ig+".") {
				return
			}
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		b, _ := json.Marshal(canonical(v))
		out[prefix] = string(b)
	}
	walk("", doc)
	return out
}

func canonical(v any) any {
	switch x := v.(type) {
	case []any:
		items := make([]any, len(x))
		keys := make([]string, len(x))
		for i, it := range x {
			items[i] = canonical(it)
			b, _ := json.Marshal(items[i])
			keys[i] = string(b)
		}
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return keys[idx[a]] < keys[idx[b]] })
		out := make([]any, len(x))
		for i, j := range idx {
			out[i] = items[j]
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = canonical(it)
		}
		return out
	case float64:
		// JSON numbers compare by value (1 == 1.0), as in the reference suite.
		return json.Number(fmt.Sprint(x))
	}
	return v
}

// Guard against the comparison itself being vacuous.
func TestFlattenForCompareSeesDifferences(t *testing.T) {
	a := flattenForCompare(map[string]any{"a": map[string]any{"b": []any{"x", "y"}}, "message": "m"})
	b := flattenForCompare(map[string]any{"a": map[string]any{"b": []any{"y", "x"}}})
	c := flattenForCompare(map[string]any{"a": map[string]any{"b": []any{"y"}}})
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatalf("comparison rules broken: %v %v %v", a, b, c)
	}
}
