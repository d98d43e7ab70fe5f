package normalize

import (
	"strings"

	"github.com/valyala/fastjson"
)

// record is the state of one normalization: the parsed raw record, the
// results of the reference's parsing stages, and the document being built.
type record struct {
	root     *fastjson.Value
	props    map[string]*fastjson.Value // properties by name; empty when properties is not an object
	hasProps bool
	category string // "AdvancedHunting-DeviceProcessEvents"
	table    string // "DeviceProcessEvents"
	doc      *document

	// Results of the parsing stages; undef when the stage did not run.
	fields   any // AdditionalFields, parsed (parse_additional_fields)
	users    any // LoggedOnUsers, parsed (DeviceInfo)
	rawData  any // RawEventData.Data, parsed
	authData any // AuthenticationDetails, parsed
}

// p returns a property (undef when absent, nil when JSON null).
func (r *record) p(name string) any {
	v, ok := r.props[name]
	if !ok {
		return undef
	}
	return fromJSON(v)
}

// pStr returns a property when it is a string.
func (r *record) pStr(name string) (string, bool) {
	v, ok := r.props[name]
	if !ok || v.Type() != fastjson.TypeString {
		return "", false
	}
	return b2s(v.GetStringBytes()), true
}

// top returns a key of the record itself (beside properties).
func (r *record) top(name string) any {
	return fromJSON(r.root.Get(name))
}

// set is the reference's `set` of a single-expression template: the
// value, made native (text holding a literal becomes that literal), is
// converted to the field's type and stored. An empty or unfit value leaves
// the field as it was.
func (r *record) set(path string, v any) {
	if s, ok := v.(string); ok {
		v = nativeText(s)
	}
	r.store(path, v)
}

// setText is the reference's `set` of a template mixing text and
// expressions: the rendered text goes through literal evaluation as a whole.
func (r *record) setText(path, text string) {
	r.store(path, nativeText(text))
}

// setValue stores a constant or computed value without literal evaluation.
func (r *record) setValue(path string, v any) { r.store(path, v) }

func (r *record) store(path string, v any) {
	if out, ok := convert(kindOf(path), v); ok {
		r.doc.put(path, out)
	}
}

// setProps maps properties to action.properties.<name> one for one.
func (r *record) setProps(names ...string) {
	for _, n := range names {
		r.set("action.properties."+n, r.p(n))
	}
}

// isIP is the reference's is_ipaddress filter.
func isIP(v any) bool {
	s, ok := v.(string)
	return ok && validIP(s)
}

// basename and dirname follow Windows path rules when the path holds a
// backslash or a drive letter, POSIX rules otherwise.
func basename(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	_, tail := splitPathname(s)
	return tail
}

func dirname(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	head, _ := splitPathname(s)
	return head
}

func isWindowsPath(s string) bool {
	return strings.IndexByte(s, '\\') >= 0 || len(s) >= 2 && s[1] == ':' && isLetter(s[0])
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// splitPathname is Python's os.path.split for the path's flavour.
func splitPathname(p string) (head, tail string) {
	if !isWindowsPath(p) {
		i := strings.LastIndexByte(p, '/') + 1
		head, tail = p[:i], p[i:]
		if head != "" && strings.Trim(head, "/") != "" {
			head = strings.TrimRight(head, "/")
		}
		return head, tail
	}
	drive, rest := splitDrive(p)
	i := len(rest)
	for i > 0 && rest[i-1] != '/' && rest[i-1] != '\\' {
		i--
	}
	head, tail = rest[:i], rest[i:]
	if trimmed := strings.TrimRight(head, `/\`); trimmed != "" {
		head = trimmed
	}
	return drive + head, tail
}

// splitDrive separates a drive ("C:") or a UNC share ("\\server\share").
func splitDrive(p string) (drive, rest string) {
	if len(p) >= 2 && p[1] == ':' && isLetter(p[0]) {
		return p[:2], p[2:]
	}
	norm := strings.ReplaceAll(p, "/", `\`)
	if strings.HasPrefix(norm, `\\`) && !strings.HasPrefix(norm, `\\\`) {
		i := strings.IndexByte(norm[2:], '\\')
		if i < 0 {
			return p, ""
		}
		i += 2
		j := strings.IndexByte(norm[i+1:], '\\')
		if j < 0 {
			return p, ""
		}
		j += i + 1
		return p[:j], p[j:]
	}
	return "", p
}
