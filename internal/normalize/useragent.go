package normalize

import (
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"
)

// The user agent parser compiles about a thousand regular expressions, so
// it is built once, on first use, and shared.
var uaParser = sync.OnceValue(func() *uaparser.Parser {
	p, err := uaparser.New()
	if err != nil {
		panic("normalize: user agent definitions: " + err.Error())
	}
	return p
})

// uaResult is the parsed form of one user agent string.
type uaResult struct {
	name, version, osName, osVersion, device string
}

// uaCache remembers parsed user agents: a stream carries few distinct ones
// and parsing one costs far more than mapping a record.
type uaCache struct {
	m map[string]uaResult
}

const uaCacheSize = 4096

func newUACache() *uaCache { return &uaCache{m: make(map[string]uaResult)} }

func (c *uaCache) parse(d *document, ua string) {
	res, ok := c.m[ua]
	if !ok {
		res = parseUA(ua)
		if len(c.m) >= uaCacheSize {
			clear(c.m)
		}
		c.m[strings.Clone(ua)] = res
	}
	put := func(path, v string) {
		if v != "" {
			d.putText(path, v)
		}
	}
	put("user_agent.name", res.name)
	put("user_agent.version", res.version)
	put("user_agent.os.name", res.osName)
	put("user_agent.os.version", res.osVersion)
	put("user_agent.device.name", res.device)
}

func parseUA(s string) uaResult {
	p := uaParser()
	ua, os, dev := p.ParseUserAgent(s), p.ParseOs(s), p.ParseDevice(s)
	return uaResult{
		name:      ua.Family,
		version:   joinVersion(ua.Major, ua.Minor, ua.Patch),
		osName:    os.Family,
		osVersion: joinVersion(os.Major, os.Minor, os.Patch),
		device:    dev.Family,
	}
}

func joinVersion(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p == "" {
			break
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}
