package normalize

import (
	"net/netip"
	"strings"
)

// validIP is the reference's is_ipaddress filter (Python's
// ipaddress.ip_address): dotted IPv4 without leading zeros, or IPv6 with
// an optional zone. Brackets, ports, prefixes and blanks are not addresses.
// Python refuses a zone holding '%' or '/', which netip would take.
func validIP(s string) bool {
	_, ok := parseIPAddress(s)
	return ok
}

func parseIPAddress(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || strings.ContainsAny(a.Zone(), "%/") {
		return netip.Addr{}, false
	}
	return a, true
}

// canonicalIP is the text an IP-typed field stores: the canonical text of
// the address, as the reference stores it, so that one address written two
// ways compares equal (related.ip, searches, rules). IPv6 follows RFC 5952,
// as Python's ipaddress prints it: lower-case hex, no leading zeros, the
// longest run of two or more zero groups (the first of equal runs) written
// "::", IPv4-mapped addresses as ::ffff:192.0.2.1. A zone is kept as
// written. ok is false when s is not an address.
func canonicalIP(s string) (string, bool) {
	a, ok := parseIPAddress(s)
	if !ok {
		return "", false
	}
	if a.Is4() {
		return s, true // netip takes only the canonical dotted form
	}
	var buf [64]byte
	b := a.AppendTo(buf[:0])
	if string(b) == s {
		return s, true // already canonical: no copy
	}
	return string(b), true
}
