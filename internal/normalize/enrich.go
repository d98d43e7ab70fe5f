package normalize

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// enrich derives the fields the reference's platform adds to every
// document after the mapping: outcome, addresses, related.*, and the parts
// of URLs, domains and user agents.
func (n *Normalizer) enrich(r *record) {
	d := r.doc
	if v, ok := d.str("action.outcome"); ok {
		d.putText("event.outcome", v)
	}
	for _, side := range [...]struct{ domain, ip, address string }{
		{"source.domain", "source.ip", "source.address"},
		{"destination.domain", "destination.ip", "destination.address"},
	} {
		if v, ok := d.str(side.domain); ok {
			d.putText(side.address, v)
		} else if v, ok := d.str(side.ip); ok {
			d.putText(side.address, v)
		}
	}
	// related.* are computed before URLs are taken apart: a domain found
	// inside url.original is not a related host in the reference.
	d.putList("related.ip", "source.ip", "destination.ip")
	d.putList("related.hash", "file.hash.md5", "file.hash.sha1", "file.hash.sha256",
		"process.hash.md5", "process.hash.sha1", "process.hash.sha256",
		"process.parent.hash.md5", "process.parent.hash.sha1", "process.parent.hash.sha256")
	d.putList("related.user", "user.name")
	d.putList("related.hosts", "url.domain", "source.domain", "destination.domain")

	if v, ok := d.str("url.original"); ok {
		splitURL(d, v)
	}
	for i := range domainSides {
		if v, ok := d.str(domainSides[i].domain); ok {
			n.splitDomain(d, &domainSides[i], v)
		}
	}
	if v, ok := d.str("user_agent.original"); ok {
		n.ua.parse(d, v)
	}
}

// putList sets path to the distinct non-empty string values of fields.
// The list is cut from the document's list backing, so it costs no
// allocation once the backing has grown.
func (d *document) putList(path string, fields ...string) {
	start := len(d.lists)
	for _, f := range fields {
		v, ok := d.str(f)
		if !ok || slices.Contains(d.lists[start:], v) {
			continue
		}
		d.lists = append(d.lists, v)
	}
	if end := len(d.lists); end > start {
		d.putStrings(d.field(path), d.lists[start:end:end])
	}
}

var defaultPorts = map[string]int64{"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}

// splitURL sets the url.* parts of an absolute URL.
func splitURL(d *document, raw string) {
	if !strings.Contains(raw, "://") {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return
	}
	scheme := strings.ToLower(u.Scheme)
	d.putText("url.full", raw)
	d.putText("url.scheme", scheme)
	if !d.has("url.domain") {
		if h := u.Hostname(); h != "" {
			d.putText("url.domain", h)
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseInt(p, 10, 64); err == nil {
			d.putInt(d.field("url.port"), n)
		}
	} else if n, ok := defaultPorts[scheme]; ok {
		d.putInt(d.field("url.port"), n)
	}
	if u.EscapedPath() != "" {
		d.putText("url.path", u.EscapedPath())
	}
	if u.RawQuery != "" {
		d.putText("url.query", u.RawQuery)
	}
	if u.Fragment != "" {
		d.putText("url.fragment", u.EscapedFragment())
	}
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			d.putText("url.username", name)
		}
	}
}

// domainParts is a domain taken apart by the public suffix list.
type domainParts struct {
	registered, suffix, sub string
	ok                      bool
}

// domainSide names a domain field and the fields splitDomain sets from it.
type domainSide struct{ domain, registered, topLevel, sub string }

var domainSides = [...]domainSide{
	{"url.domain", "url.registered_domain", "url.top_level_domain", "url.subdomain"},
	{"source.domain", "source.registered_domain", "source.top_level_domain", "source.subdomain"},
	{"destination.domain", "destination.registered_domain", "destination.top_level_domain", "destination.subdomain"},
}

// splitDomain sets the side's registered_domain, top_level_domain and
// subdomain from the public suffix list. Addresses, single labels and
// names under no known suffix get none. Results are remembered: a stream
// names the same few domains over and over.
func (n *Normalizer) splitDomain(d *document, side *domainSide, domain string) {
	p, seen := n.domains[domain]
	if !seen {
		// The text may point into the parser's buffer: the cache keeps a
		// copy, and the parts are cut from that copy.
		domain = strings.Clone(domain)
		p = parseDomain(domain)
		if len(n.domains) >= 4096 {
			clear(n.domains)
		}
		n.domains[domain] = p
	}
	if !p.ok {
		return
	}
	d.putText(side.registered, p.registered)
	d.putText(side.topLevel, p.suffix)
	if p.sub != "" {
		d.putText(side.sub, p.sub)
	}
}

func parseDomain(domain string) domainParts {
	host := strings.TrimSuffix(strings.ToLower(domain), ".")
	if host == "" || validIP(host) || !strings.Contains(host, ".") {
		return domainParts{}
	}
	suffix, icann := publicsuffix.PublicSuffix(host)
	if !icann && !strings.Contains(suffix, ".") {
		return domainParts{} // only the default rule matched: not a real suffix
	}
	registered, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return domainParts{}
	}
	sub := strings.TrimSuffix(strings.TrimSuffix(host, registered), ".")
	return domainParts{registered: registered, suffix: suffix, sub: sub, ok: true}
}
