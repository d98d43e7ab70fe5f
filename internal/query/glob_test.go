package query

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

// likeMatch is the reference: LIKE semantics (case-insensitive) by dynamic
// programming over the pattern and the text, in O(len(p) x len(s)).
func likeMatch(p, s string) bool {
	p, s = strings.ToLower(p), strings.ToLower(s)
	type tok struct {
		kind byte // '%', '_' or 'l'
		c    byte
	}
	var toks []tok
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 < len(p) {
				i++
			}
			toks = append(toks, tok{'l', p[i]})
		case '%', '_':
			toks = append(toks, tok{kind: p[i]})
		default:
			toks = append(toks, tok{'l', p[i]})
		}
	}
	// can[j] is true when the first j tokens match a prefix of s[:i].
	can := make([]bool, len(toks)+1)
	can[0] = true
	for j, t := range toks {
		can[j+1] = can[j] && t.kind == '%'
	}
	for i := 0; i < len(s); i++ {
		next := make([]bool, len(toks)+1)
		for j, t := range toks {
			switch t.kind {
			case '%':
				next[j+1] = next[j] || can[j+1]
			case '_':
				next[j+1] = can[j]
			default:
				next[j+1] = can[j] && s[i] == t.c
			}
		}
		can = next
	}
	return can[len(toks)]
}

// globRegexp matches exactly what LIKE would, on random patterns and texts
// over a small alphabet (so that near misses are frequent).
func TestGlobRegexpIsLike(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	alpha := []byte{'a', 'b', 'A', '.', '\n', '%', '_', '\\'}
	for i := 0; i < 20000; i++ {
		var p strings.Builder
		for range rng.IntN(8) {
			switch rng.IntN(4) {
			case 0:
				p.WriteByte('%')
			case 1:
				p.WriteByte('_')
			default:
				c := alpha[rng.IntN(len(alpha))]
				if c == '%' || c == '_' || c == '\\' {
					p.WriteByte('\\')
				}
				p.WriteByte(c)
			}
		}
		var s strings.Builder
		for range rng.IntN(10) {
			s.WriteByte(alpha[rng.IntN(len(alpha))])
		}
		re, _ := globRegexp(p.String())
		got := regexp.MustCompile("(?i)" + re).MatchString(s.String())
		if want := likeMatch(p.String(), s.String()); got != want {
			t.Fatalf("pattern %q (regexp %q) on %q: %v, LIKE says %v", p.String(), re, s.String(), got, want)
		}
	}
}

// The reported pattern is linear: on 100 KB of near misses it takes
// about as long as a plain substring search (RE2); and above the stated
// limits a query is refused with a position.
func TestGlobLimits(t *testing.T) {
	re, n := globRegexp("%" + strings.Repeat("a%", 8) + "b%")
	if n != 10 {
		t.Errorf("wildcards: %d", n)
	}
	text := strings.Repeat("a", 100_000)
	start := time.Now()
	if regexp.MustCompile("(?i)" + re).MatchString(text) {
		t.Error("matched")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("100 KB took %s", d)
	}

	c := compiler()
	for _, tt := range []struct {
		q   string
		pos int
	}{
		{"host.name:" + strings.Repeat("a*", MaxWildcards+1), 10}, // the value
		{strings.Repeat("?", MaxWildcards+1), 0},
		{"x OR " + strings.Repeat("*a", MaxWildcards+1), 5},
		{strings.Repeat("a ", MaxQueryBytes/2+1), MaxQueryBytes},
		{strings.Repeat("w OR ", MaxTextTerms) + "last", MaxTextTerms * 5},
		{strings.Repeat("process.pid:1 ", MaxTextTerms) + "*x", MaxTextTerms * 14},
	} {
		_, err := c.Compile(tt.q)
		var fe *FieldError
		var se *SyntaxError
		switch {
		case errors.As(err, &fe):
			if fe.Pos != tt.pos {
				t.Errorf("%.30q: position %d, want %d", tt.q, fe.Pos, tt.pos)
			}
		case errors.As(err, &se):
			if se.Pos != tt.pos {
				t.Errorf("%.30q: position %d, want %d", tt.q, se.Pos, tt.pos)
			}
		default:
			t.Errorf("%.30q: %v, want a query error", tt.q, err)
		}
	}
	if _, err := c.Compile("host.name:" + strings.Repeat("a*", MaxWildcards)); err != nil {
		t.Errorf("%d wildcards: %v", MaxWildcards, err)
	}
	for _, q := range []string{
		strings.Repeat("w ", MaxTextTerms),
		strings.Repeat("host.name:ws1 OR ", 200) + "x", // keyword columns are cheap
	} {
		if _, err := c.Compile(q); err != nil {
			t.Errorf("%.30q: %v", q, err)
		}
	}
}
