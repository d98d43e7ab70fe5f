package normalize

import (
	"math"
	"strconv"
	"strings"
)

// kind is the type of a document field, which decides how a mapped value
// is converted before it is stored (the reference validates every value
// against its field's type).
type kind uint8

const (
	kKeyword kind = iota // text; other scalars are written as text, objects as compact JSON
	kLong                // integer
	kNumber              // integer or float
	kBool                // boolean
	kDate                // timestamp, written as ISO 8601 UTC with microseconds
	kIP                  // IPv4 or IPv6 address
	kObject              // JSON object kept as is
	kNested              // list of objects kept as is
	kList                // list kept as is
)

// fieldKinds lists every field whose type is not keyword: the ECS types of
// the ECS fields the mapping sets, and the custom types of the
// microsoft.defender.* and action.properties.* fields.
var fieldKinds = map[string]kind{
	"@timestamp":           kDate,
	"event.ingested":       kDate,
	"event.created":        kDate,
	"process.start":        kDate,
	"process.parent.start": kDate,
	"file.x509.not_after":  kDate,
	"destination.port":     kLong,
	"source.port":          kLong,
	"url.port":             kLong,
	"file.size":            kLong,
	"process.pid":          kLong,
	"process.parent.pid":   kLong,
	"source.ip":            kIP,
	"destination.ip":       kIP,
	"related.ip":           kIP, // derived from source.ip and destination.ip (enrich)
	"email.attachments":    kNested,
	"microsoft.defender.operation.properties": kObject,

	"action.properties.AccountType":                           kNumber,
	"action.properties.AttachmentCount":                       kNumber,
	"action.properties.UrlCount":                              kNumber,
	"action.properties.AnonymousSuccessfulOperations":         kLong,
	"action.properties.DistinctGetOperations":                 kLong,
	"action.properties.FailedOperationsCount":                 kLong,
	"action.properties.InitiatingProcessFileSize":             kLong,
	"action.properties.OperationsCount":                       kLong,
	"action.properties.SuccessfulOperationsCount":             kLong,
	"action.properties.SuccessfulReadOperations":              kLong,
	"action.properties.HasAnonymousResourceNotFoundFailures":  kBool,
	"action.properties.IsAzureADJoined":                       kBool,
	"action.properties.IsAzureInfoProtectionApplied":          kBool,
	"action.properties.IsExternalThread":                      kBool,
	"action.properties.IsExternalUser":                        kBool,
	"action.properties.IsImpersonated":                        kBool,
	"action.properties.IsKnownSuspiciousIp":                   kBool,
	"action.properties.IsLocalAdmin":                          kBool,
	"action.properties.IsOwnedThread":                         kBool,
	"action.properties.IsPrivateIp":                           kBool,
	"action.properties.IsTorExitNode":                         kBool,
	"action.properties.HashReputationMd5List":                 kList,
	"action.properties.IPTags":                                kList,
	"action.properties.RecipientDetails":                      kList,
	"action.properties.UserAgentTags":                         kList,
	"microsoft.defender.activity.objects":                     kList,
	"microsoft.defender.threat.host.remediation_providers":    kList,
	"microsoft.defender.threat.remediation_providers":         kList,
	"microsoft.defender.certificate.is_root_signer_microsort": kBool,
	"microsoft.defender.certificate.is_signed":                kBool,
	"microsoft.defender.certificate.is_trusted":               kBool,
}

func kindOf(path string) kind {
	if k, ok := fieldKinds[path]; ok {
		return k
	}
	return kKeyword
}

// convert turns a mapped value into the stored value for a field of kind
// k. ok is false when the value does not fit the type or is empty, in which
// case the field is left as it was.
func convert(k kind, v any) (any, bool) {
	switch x := v.(type) {
	case nil, undefined:
		return nil, false
	case string:
		if x == "" || x == "$" { // "$" is the reference's ignored value
			return nil, false
		}
	}
	switch k {
	case kKeyword:
		if _, isStr := v.(string); isStr {
			return v, true // already boxed: no new allocation
		}
		return toKeyword(v, true)
	case kLong:
		return toLong(v)
	case kNumber:
		switch x := v.(type) {
		case int64, float64, bigInt:
			return x, true
		case string:
			return parseNumeric(strings.TrimSpace(x))
		}
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, true
		case int64:
			return x != 0, true
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, true
			case "false":
				return false, true
			}
		}
	case kDate:
		switch x := v.(type) {
		case string:
			if t, ok := parseTime(x); ok {
				return formatTime(t), true
			}
		case int64:
			return formatTime(epoch(float64(x))), true
		case float64:
			return formatTime(epoch(x)), true
		}
	case kIP:
		if s, ok := v.(string); ok {
			if c, ok := canonicalIP(s); ok {
				return c, true
			}
		}
	case kObject:
		if d, ok := v.(*dict); ok && len(d.keys) > 0 {
			return d, true
		}
	case kNested:
		if l, ok := v.([]any); ok && len(l) > 0 {
			for _, it := range l {
				if _, isDict := it.(*dict); !isDict {
					return nil, false
				}
			}
			return l, true
		}
	case kList:
		if l, ok := v.([]any); ok {
			return l, !allEmpty(l)
		}
		return toKeyword(v, true)
	}
	return nil, false
}

// toKeyword writes scalars as text (booleans in lower case, as JSON does)
// and objects as compact JSON with sorted keys. A list stays a list of
// keywords when allowList is set.
func toKeyword(v any, allowList bool) (any, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bigInt:
		return string(x), true
	case float64:
		return pyFloat(x), true
	case *dict:
		if len(x.keys) == 0 {
			return nil, false
		}
		return string(appendSortedJSON(nil, x)), true
	case []any:
		if !allowList {
			return string(appendSortedJSON(nil, x)), true
		}
		if allText(x) {
			return x, true // nothing to convert: keep the list as it is
		}
		out := make([]any, 0, len(x))
		for _, it := range x {
			if it == nil {
				continue
			}
			s, _ := toKeyword(it, false)
			out = append(out, s)
		}
		if allEmpty(out) {
			return nil, false
		}
		return out, true
	}
	return nil, false
}

// allText tells whether every item is a non-empty string.
func allText(l []any) bool {
	for _, it := range l {
		if s, ok := it.(string); !ok || s == "" {
			return false
		}
	}
	return len(l) > 0
}

func allEmpty(l []any) bool {
	for _, it := range l {
		if s, ok := it.(string); !ok || s != "" {
			if it != nil {
				return false
			}
		}
	}
	return true
}

func toLong(v any) (any, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) || math.Abs(x) > 1<<62 {
			return nil, false
		}
		return int64(x), true
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, true
		}
	}
	return nil, false
}

func parseNumeric(s string) (any, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return f, true
	}
	return nil, false
}
