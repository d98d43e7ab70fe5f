package normalize

import (
	"fmt"
	"strings"
	"time"
)

// tableStages maps each table the reference knows to its stage.
var tableStages = map[string]func(*record){
	"AlertEvidence":                (*record).alertEvidence,
	"AlertInfo":                    (*record).alertInfo,
	"CloudAppEvents":               (*record).cloudAppEvents,
	"CloudAuditEvents":             (*record).cloudAuditEvents,
	"CloudProcessEvents":           (*record).cloudProcessEvents,
	"CloudStorageAggregatedEvents": (*record).cloudStorageAggregatedEvents,
	"DeviceEvents":                 (*record).deviceEvents,
	"DeviceFileCertificateInfo":    (*record).deviceFileCertificateInfo,
	"DeviceFileEvents":             (*record).deviceFileEvents,
	"DeviceImageLoadEvents":        (*record).deviceImageLoadEvents,
	"DeviceInfo":                   (*record).deviceInfo,
	"DeviceLogonEvents":            (*record).deviceLogonEvents,
	"DeviceNetworkEvents":          (*record).deviceNetworkEvents,
	"DeviceNetworkInfo":            (*record).deviceNetworkInfo,
	"DeviceProcessEvents":          (*record).deviceProcessEvents,
	"DeviceRegistryEvents":         (*record).deviceRegistryEvents,
	"EmailAttachmentInfo":          (*record).emailAttachmentInfo,
	"EmailEvents":                  (*record).emailEvents,
	"EmailPostDeliveryEvents":      (*record).emailPostDeliveryEvents,
	"EmailUrlInfo":                 (*record).emailURLInfo,
	"IdentityDirectoryEvents":      (*record).identityDirectoryEvents,
	"IdentityInfo":                 (*record).identityInfo,
	"IdentityLogonEvents":          (*record).identityLogonEvents,
	"IdentityQueryEvents":          (*record).identityQueryEvents,
	"MessageEvents":                (*record).messageEvents,
	"MessagePostDeliveryEvents":    (*record).messagePostDeliveryEvents,
	"MessageUrlInfo":               (*record).messageURLInfo,
	"UrlClickEvents":               (*record).urlClickEvents,
}

// Tables knows every table with a dedicated mapping.
func Tables() []string {
	out := make([]string, 0, len(tableStages))
	for t := range tableStages {
		out = append(out, t)
	}
	return out
}

// additionalFieldsTables are the tables whose AdditionalFields the
// reference parses.
var additionalFieldsTables = map[string]bool{
	"AlertEvidence": true, "DeviceNetworkEvents": true, "DeviceProcessEvents": true, "DeviceEvents": true,
}

// Append appends to dst the ECS document (one JSON object, no trailing
// newline) for one raw streaming record, with the extra fields set on it.
// Every JSON object yields a document; an error is returned, and dst left
// unchanged, only when record is not a JSON object, so that the caller can
// dead-letter it.
func (n *Normalizer) Append(dst, record []byte, extra ...Field) ([]byte, Meta, error) {
	root, err := n.parser.parse(b2s(record))
	if err != nil {
		return dst, Meta{}, fmt.Errorf("%w: %v", ErrNotObject, err)
	}
	if root.Type() != jsonObject {
		return dst, Meta{}, fmt.Errorf("%w: found a JSON %s", ErrNotObject, root.Type())
	}
	r := n.prepare(root)
	r.commonFields()
	if r.table != "DeviceProcessEvents" {
		r.processFields()
	}
	stage, known := r.info.stage, r.info.stage != nil
	if known {
		stage(r)
	}
	switch {
	case !r.hasProps || r.category == "":
		r.setValue("event.dataset", "unknown")
	case !known:
		r.setValue("event.dataset", snakeCase(r.table))
	}
	n.enrich(r)
	ts := n.timestamp(r)
	r.doc.putTime(r.doc.field("@timestamp"), ts)
	r.doc.putString(r.doc.field("message"), b2s(record))
	for _, f := range extra {
		if f.Value == nil {
			r.doc.del(f.Path)
			continue
		}
		r.doc.put(f.Path, f.Value)
	}
	meta := Meta{Timestamp: ts, Category: r.info.category}
	if meta.Category == "" {
		meta.Category = strings.Clone(r.category)
	}
	meta.Dataset, _ = r.doc.str("event.dataset")
	if !known {
		meta.Dataset = strings.Clone(meta.Dataset)
	}
	return r.doc.appendJSON(dst), meta, nil
}

// prepare indexes the record and runs the reference's parsing stages.
func (n *Normalizer) prepare(root *jsonValue) *record {
	r := &n.rec
	n.doc.reset()
	n.props.next()
	*r = record{root: root, props: n.props, doc: n.doc, scratch: r.scratch[:0], fields: undef, users: undef, rawData: undef, authData: undef}
	if c := root.get("category"); c != nil && c.Type() == jsonString {
		r.category = c.text()
		r.table = strings.TrimPrefix(r.category, "AdvancedHunting-")
		r.info = knownCategories[r.category]
	}
	if p := root.get("properties"); p != nil && p.Type() == jsonObject {
		r.hasProps = true
		for _, m := range p.members() {
			r.props.add(m.key, m.val)
		}
	}
	if r.info.additionalFields {
		if s, ok := r.text(pAdditionalFields); ok {
			if s != "" {
				r.fields = parseJSONValue(&n.stageParsers[0], s)
			}
		} else if f := r.p(pAdditionalFields); lengthOver(f, 0) {
			r.fields = parseJSONValue(&n.stageParsers[0], f)
		}
	}
	if r.table == "DeviceInfo" {
		if s, ok := r.text(pLoggedOnUsers); ok {
			r.users = parseJSONValue(&n.stageParsers[1], s)
		} else {
			r.users = parseJSONValue(&n.stageParsers[1], r.p(pLoggedOnUsers))
		}
	}
	if data := r.propAttr(pRawEventData, "Data"); data != undef && data != nil {
		r.rawData = parseJSONValue(&n.stageParsers[2], data)
	}
	if s, ok := r.text(pAuthenticationDetails); ok {
		r.authData = parseJSONValue(&n.stageParsers[3], s)
	} else if o, ok := r.objectProp(pAuthenticationDetails); ok {
		r.authData = o
	} else if r.has(pAuthenticationDetails) {
		r.authData = parseJSONValue(&n.stageParsers[3], r.p(pAuthenticationDetails))
	}
	return r
}

// tableInfo is what the mapping needs to know of a known table, found with
// one lookup of the record's category.
type tableInfo struct {
	category         string // "AdvancedHunting-<table>", not in any record's memory
	stage            func(*record)
	additionalFields bool // the reference parses its AdditionalFields
}

var knownCategories = func() map[string]tableInfo {
	m := map[string]tableInfo{}
	for t, stage := range tableStages {
		c := "AdvancedHunting-" + t
		m[c] = tableInfo{category: c, stage: stage, additionalFields: additionalFieldsTables[t]}
	}
	return m
}()

func lengthOver(v any, n int) bool {
	l, ok := length(v)
	return ok && l > n
}

// parseJSONValue is the reference's json.parse-json stage: text is
// decoded, a value that is already structured is taken as it is, and what
// cannot be decoded leaves the stage without a result. Each stage has its
// own parser, whose buffer the decoded strings point into until the next
// record.
func parseJSONValue(p *jsonParser, v any) any {
	s, ok := v.(string)
	if !ok {
		if v == nil {
			return undef
		}
		return v
	}
	j, err := p.parse(s)
	if err != nil {
		return undef
	}
	if j.Type() == jsonObject {
		return lazyObject{j}
	}
	return fromJSON(j)
}

// fromJSONText decodes JSON text into the Python model; undefined when it
// is not JSON. The decoded values do not share memory with the text's
// parser, so they stay valid while the record is being mapped.
func fromJSONText(v any) any {
	s, ok := v.(string)
	if !ok {
		return undef
	}
	var p jsonParser
	j, err := p.parse(s)
	if err != nil {
		return undef
	}
	if j.Type() == jsonObject {
		return lazyObject{j}
	}
	return fromJSON(j)
}

// timestamp is the properties' Timestamp, else the record's time, else now.
func (n *Normalizer) timestamp(r *record) time.Time {
	if t, ok := timeOf(r.props.get(pTimestamp)); ok {
		return t
	}
	if t, ok := timeOf(r.root.get("time")); ok {
		return t
	}
	return n.opts.Now().UTC()
}

// timeOf reads a time written as text or as a number of seconds (or
// milliseconds) since the epoch.
func timeOf(v *jsonValue) (time.Time, bool) {
	if v == nil {
		return time.Time{}, false
	}
	switch v.Type() {
	case jsonString:
		return parseTime(v.text())
	case jsonNumber:
		return epoch(v.float()), true
	}
	return time.Time{}, false
}

// snakeCase turns a table name into a dataset name: "BehaviorInfo" ->
// "behavior_info", "DeviceTvmSoftwareInventory" -> "device_tvm_software_inventory".
func snakeCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		isUpper := c >= 'A' && c <= 'Z'
		if isUpper && i > 0 {
			prevLower := s[i-1] >= 'a' && s[i-1] <= 'z' || s[i-1] >= '0' && s[i-1] <= '9'
			nextLower := i+1 < len(s) && s[i+1] >= 'a' && s[i+1] <= 'z'
			prevUpper := s[i-1] >= 'A' && s[i-1] <= 'Z'
			if prevLower || prevUpper && nextLower {
				b.WriteByte('_')
			}
		}
		switch {
		case isUpper:
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "_") {
				b.WriteByte('_')
			}
		}
	}
	out := strings.Trim(b.String(), "_")
	if out == "" {
		return "unknown"
	}
	return out
}
