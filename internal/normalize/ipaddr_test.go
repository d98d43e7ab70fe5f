package normalize

import "testing"

// canonicalIP writes what Python's ipaddress (3.13 and later, which prints
// IPv4-mapped addresses in dotted form as RFC 5952 section 5 asks) prints
// for the same address, and refuses what ip_address refuses.
func TestCanonicalIP(t *testing.T) {
	tests := []struct {
		in, want string // want "" when the text is not an address
	}{
		// IPv4: only the canonical dotted form is an address.
		{"192.0.2.1", "192.0.2.1"},
		{"0.0.0.0", "0.0.0.0"},
		{"192.0.2.010", ""},
		{"192.0.2.256", ""},
		{"192.0.2", ""},
		{"192.0.2.1.5", ""},
		{"192.0.2.1:443", ""},
		{"192.0.2.1/32", ""},
		{"192.0.2.1%eth0", ""},
		{" 192.0.2.1", ""},
		// IPv6: lower case, no leading zeros, longest zero run compressed.
		{"2001:db8::1", "2001:db8::1"},
		{"2001:DB8::1", "2001:db8::1"},
		{"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
		{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    // equal runs: the first
		{"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"},      // the longer run, not the first
		{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, // one zero group stays
		{"2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},  // "::" for one group is undone
		{"0:0:0:0:0:0:0:0", "::"},
		{"0:0:0:0:0:0:0:1", "::1"},
		{"1:0:0:0:0:0:0:0", "1::"},
		{"2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"},
		{"ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
		// IPv4-mapped: dotted; other embedded IPv4 forms: hex.
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"::FFFF:C000:0201", "::ffff:192.0.2.1"},
		{"0:0:0:0:0:ffff:192.0.2.1", "::ffff:192.0.2.1"},
		{"::192.0.2.1", "::c000:201"},
		{"64:ff9b::192.0.2.1", "64:ff9b::c000:201"},
		// Zones are kept as written; Python refuses '%' and '/' in them.
		{"FE80::0001%eth0", "fe80::1%eth0"},
		{"fe80::1%Ethernet 2", "fe80::1%Ethernet 2"},
		{"fe80::1%", ""},
		{"fe80::1%a%b", ""},
		{"fe80::1%eth0/64", ""},
		// Brackets, ports, prefixes and junk are not addresses.
		{"[2001:db8::1]", ""},
		{"[2001:db8::1]:443", ""},
		{"2001:db8::1/64", ""},
		{"2001:db8::1::2", ""},
		{"1:2:3:4:5:6:7:8:9", ""},
		{"2001:db8::10000", ""},
		{"", ""},
		{"-", ""},
		{"example.com", ""},
	}
	for _, tt := range tests {
		got, ok := canonicalIP(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("canonicalIP(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
		if validIP(tt.in) != ok {
			t.Errorf("validIP(%q) = %v, canonicalIP ok = %v", tt.in, !ok, ok)
		}
	}
}

// An address already in canonical form is returned as it is, without a
// copy: most addresses in a stream are canonical.
func TestCanonicalIPNoAllocWhenCanonical(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0"} {
		if n := testing.AllocsPerRun(100, func() { canonicalIP(s) }); n != 0 {
			t.Errorf("canonicalIP(%q) allocates %v times", s, n)
		}
	}
}
