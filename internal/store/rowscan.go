package store

import (
	"bytes"
	"database/sql/driver"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/query"
)

// rowScanner builds a document's row in one pass over its bytes instead of
// parsing it into a tree and writing the tree out again without message
// (a third of Write's CPU). It produces exactly the row the tree would:
// a normalized document is compact JSON, which fastjson writes back out
// byte for byte, so the stored document is the input with the first
// top-level "message" member cut out. Whatever could make the two differ
// (whitespace, escaped keys in objects a lookup visits, a looked-up string
// that fastjson would escape differently, invalid JSON, deep nesting) makes
// scan report false, and build takes the tree's way.
type rowScanner struct {
	doc   []byte
	pos   int
	found []byteSpan      // first occurrence of each key of scanRoot's tree
	cut   byteSpan        // the first top-level message member, with one comma
	p     fastjson.Parser // for the rare values it hands to fastjson
}

// byteSpan is a byte range of the document; ok is false when absent.
type byteSpan struct {
	lo, hi int
	ok     bool
}

// scanNode is an object the scanner looks into: the keys whose values the
// row needs (slot) or that lead to them (kid).
type scanNode struct {
	keys map[string]scanEntry
}

type scanEntry struct {
	slot int       // index in rowScanner.found
	kid  *scanNode // object to look into, nil if none
}

// Every key of the tree has a slot in rowScanner.found (whether the row
// needs its value or it leads to one), so that only a key's first
// occurrence counts, as in fastjson's lookups.
const maxScanDepth = 64

var (
	scanRoot  *scanNode
	scanSlots int
	colSlot   [numTyped]int // typed column at its nested path
	flatSlot  [numTyped]int // typed column as a flattened top-level key, -1 if none
	slotTS    int
	slotMsg   int
)

const numTyped = 20

func init() {
	if len(typedColumns) != numTyped {
		panic("store: numTyped must be len(typedColumns)")
	}
	newNode := func() *scanNode { return &scanNode{keys: map[string]scanEntry{}} }
	scanRoot = newNode()
	entry := func(n *scanNode, key string) scanEntry {
		e, ok := n.keys[key]
		if !ok {
			e = scanEntry{slot: scanSlots}
			scanSlots++
			n.keys[key] = e
		}
		return e
	}
	child := func(n *scanNode, key string) *scanNode {
		e := entry(n, key)
		if e.kid == nil {
			e.kid = newNode()
			n.keys[key] = e
		}
		return e.kid
	}
	for i, path := range typedPaths {
		n := scanRoot
		for _, part := range path[:len(path)-1] {
			n = child(n, part)
		}
		colSlot[i] = entry(n, path[len(path)-1]).slot
		flatSlot[i] = -1
		if len(path) > 1 {
			flatSlot[i] = entry(scanRoot, typedColumns[i].Field).slot
		}
	}
	slotTS = entry(scanRoot, "@timestamp").slot
	slotMsg = entry(scanRoot, "message").slot
}

// build makes the row of doc as rowBuilder.buildParsed would, or reports
// false when it cannot be sure to (see rowScanner).
func (r *rowScanner) build(doc []byte, ts time.Time, id uint64, now time.Time) ([]driver.Value, time.Time, bool) {
	if !r.scan(doc) {
		return nil, ts, false
	}
	if ts.IsZero() {
		if x := r.found[slotTS]; x.ok && doc[x.lo] == '"' {
			raw := doc[x.lo:x.hi]
			if !writesBack(raw) {
				return nil, ts, false
			}
			var buf [64]byte
			ts, _ = time.Parse(time.RFC3339Nano, string(decodeString(buf[:0], raw)))
		}
		if ts.IsZero() {
			ts = now
		}
	}
	ts = ts.UTC()
	a := arena(make([]byte, 0, len(doc)+384))
	var message any
	if m := r.found[slotMsg]; m.ok && doc[m.lo] == '"' {
		start := len(a)
		a = r.appendUnescaped(a, doc[m.lo:m.hi])
		message = a.tail(start)
	}
	row := make([]driver.Value, 0, len(typedColumns)+5)
	row = append(row, id, ts, now)
	for i, c := range typedColumns {
		x := r.found[colSlot[i]]
		if !x.ok && flatSlot[i] >= 0 {
			x = r.found[flatSlot[i]]
		}
		v, ok := r.column(x, c, &a)
		if !ok {
			return nil, ts, false
		}
		row = append(row, v)
	}
	start := len(a)
	if message != nil {
		a = append(a, doc[:r.cut.lo]...)
		a = append(a, doc[r.cut.hi:]...)
	} else {
		a = append(a, doc...)
	}
	row = append(row, a.tail(start), message)
	return row, ts, true
}

// column is extract for the value at x.
func (r *rowScanner) column(x byteSpan, c typedColumn, a *arena) (any, bool) {
	if !x.ok || r.doc[x.lo] == 'n' {
		return nil, true
	}
	raw := r.doc[x.lo:x.hi]
	if raw[0] != '"' {
		// Numbers, lists and objects: fastjson reads them as before. A
		// string inside them that it would write back differently sends
		// the document the tree's way.
		if needsEscapeCheck(raw) {
			return nil, false
		}
		v, err := r.p.ParseBytes(raw)
		if err != nil {
			return nil, false
		}
		return extractValue(v, c, a), true
	}
	if !writesBack(raw) {
		return nil, false
	}
	start := len(*a)
	*a = decodeString(*a, raw)
	switch c.Kind {
	case query.Int:
		n, err := strconv.ParseInt(string((*a)[start:]), 10, 32)
		*a = (*a)[:start]
		if err != nil {
			return nil, true
		}
		return int32(n), true
	case query.KeywordList:
		return []string{a.tail(start)}, true
	}
	return a.tail(start), true
}

// writesBack reports whether fastjson writes the decoded text of the JSON
// string raw (quotes included) back out as raw. Without backslashes or
// control characters it writes it as it is; otherwise it writes
// strconv.Quote of the text, which is raw only when raw escapes nothing
// but quotes, backslashes and \n \r \t \b \f, and holds no other character
// that Quote escapes.
func writesBack(raw []byte) bool {
	body := raw[1 : len(raw)-1]
	if !needsEscapeCheck(body) {
		return true
	}
	for i := 0; i < len(body); {
		switch c := body[i]; {
		case c == '\\':
			if i+1 == len(body) {
				return false
			}
			switch body[i+1] {
			case '"', '\\', 'n', 'r', 't', 'b', 'f':
				i += 2
				continue
			}
			return false
		case c < 0x20 || c == 0x7f:
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
				return false
			}
			i += n
		}
	}
	return true
}

// decodeString appends the text of the JSON string raw, for which
// writesBack holds, to dst.
func decodeString(dst, raw []byte) []byte {
	body := raw[1 : len(raw)-1]
	for {
		i := bytes.IndexByte(body, '\\')
		if i < 0 {
			return append(dst, body...)
		}
		dst = append(dst, body[:i]...)
		dst = append(dst, unescaped[body[i+1]])
		body = body[i+2:]
	}
}

// unescaped maps the letter of a JSON escape to its byte (0: \u or not an
// escape).
var unescaped = [256]byte{'"': '"', '\\': '\\', '/': '/', 'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f'}

// appendUnescaped appends the text of the JSON string raw to dst as
// fastjson decodes it.
func (r *rowScanner) appendUnescaped(dst, raw []byte) []byte {
	body := raw[1 : len(raw)-1]
	start := len(dst)
	for {
		i := bytes.IndexByte(body, '\\')
		if i < 0 {
			return append(dst, body...)
		}
		if i+1 == len(body) || unescaped[body[i+1]] == 0 {
			break // \u escapes and invalid ones: fastjson's own way
		}
		dst = append(dst, body[:i]...)
		dst = append(dst, unescaped[body[i+1]])
		body = body[i+2:]
	}
	v, err := r.p.ParseBytes(raw)
	if err != nil {
		return append(dst[:start], raw[1:len(raw)-1]...) // cannot happen: scan checked the string
	}
	return append(dst[:start], v.GetStringBytes()...)
}

// needsEscapeCheck reports whether b holds a backslash or a control
// character, the bytes fastjson may write differently.
func needsEscapeCheck(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return true
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// scan walks doc, a JSON object, recording the spans the row needs. It
// reports false for anything but compact, valid JSON whose looked-up
// objects have plain keys.
func (r *rowScanner) scan(doc []byte) bool {
	r.doc, r.pos = doc, 0
	if len(r.found) != scanSlots {
		r.found = make([]byteSpan, scanSlots)
	}
	clear(r.found)
	r.cut = byteSpan{}
	if len(doc) == 0 || doc[0] != '{' {
		return false
	}
	return r.object(scanRoot, 0, true) && r.pos == len(doc)
}

// object scans the object at r.pos; node is nil for objects no lookup
// visits.
func (r *rowScanner) object(node *scanNode, depth int, top bool) bool {
	if depth > maxScanDepth {
		return false
	}
	d := r.doc
	r.pos++ // '{'
	if r.pos < len(d) && d[r.pos] == '}' {
		r.pos++
		return true
	}
	for first := true; ; first = false {
		if r.pos >= len(d) || d[r.pos] != '"' {
			return false
		}
		keyStart := r.pos
		var key []byte
		if node != nil {
			// fastjson compares these keys decoded and writes them
			// encoded again: only plain keys are the same both ways.
			end := bytes.IndexByte(d[r.pos+1:], '"')
			if end < 0 {
				return false
			}
			key = d[r.pos+1 : r.pos+1+end]
			if needsEscapeCheck(key) {
				return false
			}
			r.pos += end + 2
		} else if !r.skipString() {
			return false
		}
		if r.pos >= len(d) || d[r.pos] != ':' {
			return false
		}
		r.pos++
		if r.pos >= len(d) {
			return false
		}
		valStart := r.pos
		var e scanEntry
		known := false
		if node != nil {
			e, known = node.keys[string(key)]
		}
		if known && r.found[e.slot].ok {
			known = false // a later duplicate: lookups find the first
		}
		var ok bool
		if known && e.kid != nil && d[r.pos] == '{' {
			ok = r.object(e.kid, depth+1, false)
		} else {
			ok = r.value(depth + 1)
		}
		if !ok {
			return false
		}
		if known {
			r.found[e.slot] = byteSpan{valStart, r.pos, true}
			if top && e.slot == slotMsg {
				r.cut = byteSpan{keyStart, r.pos, true}
				if !first {
					r.cut.lo-- // the comma before it
				}
			}
		}
		if r.pos >= len(d) {
			return false
		}
		switch d[r.pos] {
		case ',':
			if top && r.cut.ok && r.cut.hi == r.pos && first {
				r.cut.hi++ // the first member goes with the comma after it
			}
			r.pos++
		case '}':
			r.pos++
			return true
		default:
			return false
		}
	}
}

// value skips the value at r.pos.
func (r *rowScanner) value(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	d := r.doc
	switch c := d[r.pos]; {
	case c == '{':
		return r.object(nil, depth, false)
	case c == '[':
		r.pos++
		if r.pos < len(d) && d[r.pos] == ']' {
			r.pos++
			return true
		}
		for {
			if r.pos >= len(d) || !r.value(depth+1) || r.pos >= len(d) {
				return false
			}
			switch d[r.pos] {
			case ',':
				r.pos++
			case ']':
				r.pos++
				return true
			default:
				return false
			}
		}
	case c == '"':
		return r.skipString()
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		// fastjson takes the longest run of number characters as is.
		i := r.pos + 1
		for i < len(d) && (d[i] >= '0' && d[i] <= '9' || d[i] == '.' || d[i] == '-' || d[i] == '+' || d[i] == 'e' || d[i] == 'E') {
			i++
		}
		r.pos = i
		return true
	}
	return false
}

func (r *rowScanner) literal(s string) bool {
	if !strings.HasPrefix(string(r.doc[r.pos:min(len(r.doc), r.pos+len(s))]), s) {
		return false
	}
	r.pos += len(s)
	return true
}

// skipString moves past the string at r.pos: its end is the first quote
// after an even number of backslashes, as fastjson finds it.
func (r *rowScanner) skipString() bool {
	d := r.doc
	first := r.pos + 1
	for i := first; ; {
		end := bytes.IndexByte(d[i:], '"')
		if end < 0 {
			return false
		}
		q := i + end
		k := q
		for k > first && d[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			r.pos = q + 1
			return true
		}
		i = q + 1
	}
}
