package config

import (
	"strings"
	"testing"
)

// An address is checked as net.Listen and a dialer would read it, so
// config check refuses what would fail at run (or listen on a random
// port), without quoting it: it may be a secret given to the wrong key.
func TestCheckAddresses(t *testing.T) {
	const cs = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc=" // SplitHostPort takes it
	tests := []struct {
		addr         string
		listen, dial bool // accepted
	}{
		{"127.0.0.1:9464", true, true},
		{":9464", true, false},
		{"0.0.0.0:0", true, false},
		{"[::1]:8514", true, true},
		{"localhost:http", true, true},
		{"ns.servicebus.windows.net:9093", true, true},
		{"kafka_1:9092", true, true},
		{cs, false, false},
		{"127.0.0.1:", false, false},
		{"127.0.0.1", false, false},
		{"host:99999", false, false},
		{"host:-1", false, false},
		{"host:no-such-service-name", false, false},
		{"ho st:80", false, false},
		{"a=b:80", false, false},
		{"", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			for _, c := range []struct {
				kind  string
				check func(string) error
				want  bool
			}{{"listen", CheckListen, tc.listen}, {"dial", CheckDial, tc.dial}} {
				err := c.check(tc.addr)
				if (err == nil) != c.want {
					t.Errorf("%s: error %v, want accepted %t", c.kind, err, c.want)
				}
				if err != nil && len(tc.addr) > 3 && strings.Contains(err.Error(), tc.addr) {
					t.Errorf("%s: the error quotes the address: %v", c.kind, err)
				}
			}
		})
	}
}
