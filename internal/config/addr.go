package config

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
)

// hostName is a DNS name or an IPv4 address as written in an address
// (IPv6 addresses are checked by net.ParseIP).
var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$`)

// CheckListen checks an address to listen on, "host:port" or ":port", as
// far as it can be checked without binding it. net.SplitHostPort alone
// accepts "a=b://c;d:x" (a connection string given as the address) and
// "host:" (a random port): both fail only at run, or listen where nobody
// looks. Errors do not quote the address.
func CheckListen(addr string) error { return checkHostPort(addr, true) }

// CheckDial checks an address to connect to, "host:port" (a broker).
func CheckDial(addr string) error { return checkHostPort(addr, false) }

func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("not host:port (%s)", ae.Err)
		}
		return errors.New("not host:port")
	}
	switch {
	case host == "" && !listen:
		return errors.New("host: missing (host:port)")
	case host != "" && net.ParseIP(host) == nil && !hostName.MatchString(host):
		return errors.New("host: not a host name or IP address")
	}
	if port == "" {
		return errors.New("port: missing (host:port)")
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 || (n == 0 && !listen) {
			return fmt.Errorf("port: %d is out of range", n)
		}
		return nil
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return errors.New("port: not a number nor a known service name")
	}
	return nil
}
