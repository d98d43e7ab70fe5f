package normalize

import (
	"reflect"
	"testing"
)

// An empty list or object stays a list or an object where the field can
// hold one; a field of another type still refuses it.
func TestEmptyContainer(t *testing.T) {
	empty := &dict{}
	tests := []struct {
		k      kind
		in     any
		want   any
		wantOK bool
	}{
		{kKeyword, []any{}, []any{}, true},
		{kList, []any{}, []any{}, true},
		{kKeyword, empty, "{}", true},
		{kObject, empty, empty, true},
		{kList, empty, nil, false},
		{kLong, []any{}, nil, false},
		{kNumber, empty, nil, false},
		{kBool, []any{}, nil, false},
		{kDate, empty, nil, false},
		{kIP, []any{}, nil, false},
		{kKeyword, []any{"x"}, nil, false}, // not empty: convert's business
		{kKeyword, "", nil, false},
		{kKeyword, nil, nil, false},
	}
	for _, tt := range tests {
		got, ok := emptyContainer(tt.k, tt.in)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("emptyContainer(%d, %#v) = %#v, %v; want %#v, %v", tt.k, tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
	if !keepsEmptyContainers("action.properties.IPTags") || keepsEmptyContainers("email.attachments") ||
		keepsEmptyContainers("microsoft.defender.activity.objects") {
		t.Error("only action.properties.* keep empty lists and objects")
	}
}
