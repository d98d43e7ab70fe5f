package fieldmap

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// Record is one Defender record as the Sigma engine sees it: the raw
// streaming record (for mapped Sigma fields) and optionally its normalized
// ECS document (for rules written on ECS names). It reuses its parsers and
// buffers, so it is not safe for concurrent use; Reset it for each event.
type Record struct {
	m       *Mapping
	rawP    fastjson.Parser
	ecsP    fastjson.Parser
	raw     []byte
	root    *fastjson.Value
	props   *fastjson.Value
	ecs     *fastjson.Value
	ecsRaw  []byte
	ecsDone bool // ecsRaw parsed (lazily: most rules never read ECS fields)
	table   string
	specs   map[string]FieldSpec // per-record cache of m.specs
	vals    []sigma.Value
	jsonP   fastjson.Parser // for JSON text inside a property (AdditionalFields)
	jsonRaw string
	jsonV   *fastjson.Value
}

// NewRecord returns a reusable Record reading fields through m.
func (m *Mapping) NewRecord() *Record {
	return &Record{m: m, specs: map[string]FieldSpec{}}
}

// Reset loads one event: raw is the Defender streaming record, ecs its
// normalized document (nil when not available). Both must stay unchanged
// until the next Reset. An error means raw is not a JSON object.
func (r *Record) Reset(raw, ecs []byte) error {
	r.raw, r.root, r.props, r.ecs, r.table, r.jsonRaw, r.jsonV = raw, nil, nil, nil, "", "", nil
	r.ecsRaw, r.ecsDone = ecs, false
	v, err := r.rawP.ParseBytes(raw)
	if err != nil {
		return fmt.Errorf("parsing record: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return fmt.Errorf("record is a JSON %s, not an object", v.Type())
	}
	r.root = v
	r.props = v.Get("properties")
	if r.props == nil || r.props.Type() != fastjson.TypeObject {
		r.props = v // flattened records carry the properties at the top
	}
	cat := string(v.GetStringBytes("category"))
	if cat == "" {
		cat = string(v.GetStringBytes("Category"))
	}
	r.table = strings.TrimPrefix(cat, "AdvancedHunting-")
	if r.table == "DeviceInfo" {
		r.m.devices.learn(r.propString("DeviceId"), r.propString("OSPlatform"))
	}
	if r.table == "" {
		if e := r.ecsDoc(); e != nil {
			r.table = tableFromDataset(string(e.GetStringBytes("event", "dataset")))
		}
	}
	return nil
}

// ecsDoc parses the ECS document on first use; nil when there is none.
func (r *Record) ecsDoc() *fastjson.Value {
	if !r.ecsDone {
		r.ecsDone = true
		if len(r.ecsRaw) > 0 {
			if e, err := r.ecsP.ParseBytes(r.ecsRaw); err == nil && e.Type() == fastjson.TypeObject {
				r.ecs = e
			}
		}
	}
	return r.ecs
}

// tableFromDataset turns event.dataset ("device_process_events") back into
// the table name, for documents that lost their raw category.
func tableFromDataset(ds string) string {
	var b strings.Builder
	for _, part := range strings.Split(ds, "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// Table implements sigma.Event.
func (r *Record) Table() string { return r.table }

// Get implements sigma.Event.
func (r *Record) Get(key string) ([]sigma.Value, bool) {
	r.vals = r.vals[:0]
	if key == sigma.KeywordKey {
		return r.keywordValues()
	}
	spec, ok := r.specs[key]
	if !ok {
		if spec, ok = r.m.spec(key); !ok {
			return nil, false
		}
		r.specs[key] = spec
	}
	return r.eval(spec)
}

func (r *Record) prop(name string) *fastjson.Value {
	if r.props == nil {
		return nil
	}
	return r.props.Get(name)
}

// propString is a property as text; "" when absent or null.
func (r *Record) propString(name string) string {
	v := r.prop(name)
	if v == nil {
		return ""
	}
	s, _ := toValue(v)
	if s.Kind == sigma.KindNull {
		return ""
	}
	return s.S
}

func toValue(v *fastjson.Value) (sigma.Value, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return sigma.Value{S: string(v.GetStringBytes())}, true
	case fastjson.TypeNumber:
		return sigma.Value{S: string(v.MarshalTo(nil)), Kind: sigma.KindNumber}, true
	case fastjson.TypeTrue:
		return sigma.Value{S: "true", Kind: sigma.KindBool}, true
	case fastjson.TypeFalse:
		return sigma.Value{S: "false", Kind: sigma.KindBool}, true
	case fastjson.TypeNull:
		return sigma.Value{Kind: sigma.KindNull}, true
	}
	return sigma.Value{S: string(v.MarshalTo(nil))}, true
}

func (r *Record) one(s string) ([]sigma.Value, bool) {
	return append(r.vals, sigma.Value{S: s}), true
}

func (r *Record) eval(f FieldSpec) ([]sigma.Value, bool) {
	switch {
	case f.Prop != "":
		v := r.prop(f.Prop)
		if v == nil {
			return nil, false
		}
		return r.appendValue(v)
	case f.ECS != "":
		return r.ecsField(f.ECS)
	case len(f.Join) > 0:
		var parts []string
		for _, p := range f.Join {
			if s := r.propString(p); s != "" {
				parts = append(parts, s)
			}
		}
		if len(parts) == 0 {
			return nil, false
		}
		return r.one(strings.Join(parts, f.Sep))
	case len(f.Hashes) > 0:
		var parts []string
		for _, h := range f.Hashes {
			if s := r.propString(h); s != "" {
				parts = append(parts, strings.ToUpper(h)+"="+s)
			}
		}
		if len(parts) == 0 {
			return nil, false
		}
		return r.one(strings.Join(parts, ","))
	case len(f.Registry) > 0:
		key, val := r.propString(f.Registry[0]), r.propString(f.Registry[1])
		if key == "" && len(f.Registry) == 4 {
			key, val = r.propString(f.Registry[2]), r.propString(f.Registry[3])
		}
		if key == "" {
			return nil, false
		}
		path := shortHive(key)
		if val != "" {
			path += `\` + val
		}
		return r.one(path)
	case len(f.RegistryData) > 0:
		v := r.prop(f.RegistryData[0])
		if v == nil {
			return nil, false
		}
		if v.Type() == fastjson.TypeNull {
			return r.appendValue(v)
		}
		s, _ := toValue(v)
		return r.one(sysmonDetails(s.S, r.propString(f.RegistryData[1])))
	case f.JSON != "":
		obj := r.jsonProp(f.JSON)
		if obj == nil {
			return nil, false
		}
		v := obj.Get(f.Key)
		if v == nil {
			return nil, false
		}
		out, ok := r.appendValue(v)
		if f.TrimPrefix != "" && len(out) == 1 && out[0].Kind == sigma.KindString {
			if len(out[0].S) >= len(f.TrimPrefix) && strings.EqualFold(out[0].S[:len(f.TrimPrefix)], f.TrimPrefix) {
				out[0].S = out[0].S[len(f.TrimPrefix):]
			}
		}
		return out, ok
	case len(f.ActionIn) > 0:
		at := r.propString("ActionType")
		if at == "" {
			return nil, false
		}
		for _, a := range f.ActionIn {
			if strings.EqualFold(a, at) {
				return append(r.vals, sigma.Value{S: "true", Kind: sigma.KindBool}), true
			}
		}
		return append(r.vals, sigma.Value{S: "false", Kind: sigma.KindBool}), true
	case f.Map != "":
		s := r.propString(f.Map)
		if s == "" {
			return nil, false
		}
		for k, v := range f.Values {
			if strings.EqualFold(k, s) {
				return r.one(v)
			}
		}
		return r.one(s)
	case len(f.Platform) > 0:
		return r.one(r.platform(f.Platform))
	case f.URLHost != "":
		s := r.propString(f.URLHost)
		if s == "" {
			return nil, false
		}
		return r.one(urlHost(s))
	}
	return nil, false
}

// appendValue adds v; an array gives one value per element.
func (r *Record) appendValue(v *fastjson.Value) ([]sigma.Value, bool) {
	if v.Type() == fastjson.TypeArray {
		for _, e := range v.GetArray() {
			x, _ := toValue(e)
			r.vals = append(r.vals, x)
		}
		return r.vals, true
	}
	x, _ := toValue(v)
	return append(r.vals, x), true
}

// jsonProp returns a property holding a JSON object, either as an object
// or as JSON text (Defender's AdditionalFields is sent both ways).
func (r *Record) jsonProp(name string) *fastjson.Value {
	v := r.prop(name)
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeObject:
		return v
	case fastjson.TypeString:
		s := string(v.GetStringBytes())
		if s != r.jsonRaw || r.jsonV == nil {
			p, err := r.jsonP.Parse(s)
			if err != nil || p.Type() != fastjson.TypeObject {
				return nil
			}
			r.jsonRaw, r.jsonV = s, p
		}
		return r.jsonV
	}
	return nil
}

// ecsField reads a dotted ECS name from the nested document, falling back
// to a literal dotted key.
func (r *Record) ecsField(name string) ([]sigma.Value, bool) {
	doc := r.ecsDoc()
	if doc == nil {
		return nil, false
	}
	v := doc.Get(strings.Split(name, ".")...)
	if v == nil {
		v = doc.Get(name)
	}
	if v == nil {
		return nil, false
	}
	return r.appendValue(v)
}

// keywordValues are the texts keyword searches look in: every property
// value of the raw record (unescaped, so `C:\Windows` is searched as the
// text C:\Windows, not as its JSON escaping); nested objects and arrays
// as their JSON text.
func (r *Record) keywordValues() ([]sigma.Value, bool) {
	if r.props == nil {
		return nil, false
	}
	obj, err := r.props.Object()
	if err != nil {
		return nil, false
	}
	obj.Visit(func(_ []byte, v *fastjson.Value) {
		if x, _ := toValue(v); x.Kind != sigma.KindNull {
			r.vals = append(r.vals, sigma.Value{S: x.S})
		}
	})
	return r.vals, len(r.vals) > 0
}
