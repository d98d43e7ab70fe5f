package normalize

import "strings"

// keepsEmptyContainers tells whether a field keeps an empty list or an
// empty object. The reference copies each property to
// action.properties.<name> with a single-expression `set`, which stores
// the property's native value: only None, "" and its ignored value "$"
// leave the field unset, so `"IPTags": []` gives action.properties.IPTags
// [] and `"RawEventData": {}` gives "{}" (an object in a keyword field is
// written as JSON). Other fields lose their empty values in the
// reference's output (email.attachments built from no attachment is
// absent), so they do here too.
func keepsEmptyContainers(path string) bool {
	return strings.HasPrefix(path, "action.properties.")
}

// emptyContainer converts an empty list or object for a field that keeps
// them (see keepsEmptyContainers). ok is false for any other value, and
// for a field type that cannot hold a list or an object.
func emptyContainer(k kind, v any) (any, bool) {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 && (k == kKeyword || k == kList) {
			return x, true
		}
	case *dict:
		if len(x.keys) == 0 {
			switch k {
			case kKeyword:
				return "{}", true
			case kObject:
				return x, true
			}
		}
	}
	return nil, false
}
