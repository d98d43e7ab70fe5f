package store

import (
	"slices"
	"strings"
	"testing"
)

// The "did you mean" hint names fields close to the one typed, closest
// first, and never long unrelated ones that merely contain it.
func TestSuggestCloseNames(t *testing.T) {
	f := newFieldSet()
	for _, n := range []string{
		"microsoft.defender.report.additional_fields.initiating_process_account_name",
		"email.sender.display_name", "cloud.service.name", "process.name_original",
		"process.parent.name", "host.hostname", "hosts",
	} {
		f.known[n] = "string"
	}
	c := catalog{f}
	tests := []struct {
		typed string
		first string   // the closest suggestion; "" for none at all
		never []string // names that must not be suggested
	}{
		{"hots.name", "host.name", nil},
		{"hostname", "host.name", []string{"microsoft.defender.report.additional_fields.initiating_process_account_name"}},
		{"HOST.NAME.", "host.name", nil},
		{"proces.name", "process.name", []string{"process.parent.name", "cloud.service.name"}},
		{"process.na", "process.name", []string{"microsoft.defender.report.additional_fields.initiating_process_account_name"}},
		{"name", "", nil},
		{"e", "", nil},
		{"display_name", "email.sender.display_name", nil},
		{"_name", "", nil},
		{"xyzzy.plugh", "", nil},
		{strings.Repeat("a", 5000), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.typed[:min(len(tt.typed), 20)], func(t *testing.T) {
			got := c.Suggest(tt.typed)
			if len(got) > maxSuggestions {
				t.Errorf("%d suggestions, at most %d", len(got), maxSuggestions)
			}
			switch {
			case tt.first == "" && len(got) > 0:
				t.Errorf("Suggest(%q) = %q, want nothing", tt.typed, got)
			case tt.first != "" && (len(got) == 0 || got[0] != tt.first):
				t.Errorf("Suggest(%q) = %q, want %q first", tt.typed, got, tt.first)
			}
			for _, n := range tt.never {
				if slices.Contains(got, n) {
					t.Errorf("Suggest(%q) = %q: %q is not close", tt.typed, got, n)
				}
			}
			for _, n := range got {
				if len(n) > len(tt.typed)+maxCompletion && !strings.HasSuffix(n, "."+tt.typed) {
					t.Errorf("Suggest(%q) suggests the long %q", tt.typed, n)
				}
			}
		})
	}
}
