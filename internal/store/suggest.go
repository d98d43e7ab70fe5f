package store

import (
	"sort"
	"strings"
)

// Suggest returns up to maxSuggestions known field names close to an
// unknown one, closest first: the same name without its dots or with other
// dots (hostname, host.name), a few typos (hots.name), a completion of
// what was typed (process.na), or a name whose last parts are what was
// typed (display_name). A name that merely contains what was typed is not
// close: "e" or "name" would suggest long unrelated fields. The
// work is bounded: the edit distance is computed only between names of
// nearly the same length, and never on names longer than maxSuggestLen.
func (c catalog) Suggest(field string) []string {
	lf := strings.ToLower(field)
	if lf == "" || len(lf) > maxSuggestLen {
		return nil
	}
	type candidate struct {
		name  string
		score int
	}
	var found []candidate
	c.f.mu.RLock()
	for n := range c.f.known {
		if s, ok := closeness(lf, strings.ToLower(n)); ok {
			found = append(found, candidate{n, s})
		}
	}
	c.f.mu.RUnlock()
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.score != b.score {
			return a.score < b.score
		}
		if len(a.name) != len(b.name) {
			return len(a.name) < len(b.name)
		}
		return a.name < b.name
	})
	out := make([]string, 0, min(len(found), maxSuggestions))
	for _, f := range found[:min(len(found), maxSuggestions)] {
		out = append(out, f.name)
	}
	return out
}

const (
	maxSuggestions = 5
	// maxSuggestLen bounds the names compared: no field is that long, and
	// the edit distance costs the product of the lengths.
	maxSuggestLen = 128
	// maxCompletion is how much longer than what was typed a completion
	// may be: process.na gives process.name, not every process.* field.
	maxCompletion = 8
)

// closeness scores how close the known name n is to the typed name t (both
// lower case), lower is closer; false when it is not close.
func closeness(t, n string) (int, bool) {
	if len(n) > maxSuggestLen {
		return 0, false
	}
	if strings.ReplaceAll(n, ".", "") == strings.ReplaceAll(t, ".", "") {
		return 0, true
	}
	// Typos: at most one edit in a short name, two in a longer one.
	allowed := 1
	if len(t) >= 6 {
		allowed = 2
	}
	if d := len(n) - len(t); d >= -allowed && d <= allowed {
		if e := editDistance(t, n); e <= allowed {
			return e, true
		}
	}
	// Completions of a typed prefix long enough to mean something.
	if len(t) >= 3 && strings.HasPrefix(n, t) && len(n)-len(t) <= maxCompletion {
		return allowed + 1, true
	}
	// The last parts of a name, whole and specific enough (display_name
	// gives email.sender.display_name; name alone gives nothing).
	if len(t) >= 6 && strings.HasSuffix(n, "."+t) {
		return allowed + 2, true
	}
	return 0, false
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
