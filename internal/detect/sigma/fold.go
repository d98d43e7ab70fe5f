package sigma

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldLower is the case folding of every case-insensitive comparison, on
// rule values and event values alike. Each letter becomes the lowercase of
// the smallest member of its case-folding orbit, so letters that (?i)
// regular expressions equate (s, S and the long s; k and the Kelvin sign;
// the three Greek sigmas) fold to one letter; for all others it is
// strings.ToLower. ASCII text, the common case, takes the fast path.
func foldLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Map(foldRune, s)
		}
	}
	return strings.ToLower(s)
}

func foldRune(r rune) rune {
	smallest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		smallest = min(smallest, f)
	}
	return unicode.ToLower(smallest)
}
