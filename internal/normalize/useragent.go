package normalize

import (
	"strings"
)

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

// parseUA parses a user agent as uap-go's Parser does (see uarules.go).
func parseUA(s string) uaResult { return uaRules().parse(s) }

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
