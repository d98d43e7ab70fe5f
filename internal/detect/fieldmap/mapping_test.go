package fieldmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

func record(table, props string) []byte {
	return []byte(`{"time":"2025-01-01T00:00:00Z","category":"AdvancedHunting-` + table + `","properties":` + props + `}`)
}

// TestFields reads Sigma fields from Defender records through the
// built-in mapping, including the value rewrites.
func TestFields(t *testing.T) {
	cases := []struct {
		name   string
		ls     sigma.Logsource
		field  string
		record []byte
		ecs    string
		want   []string // nil: absent
	}{
		{"image", sigma.Logsource{Product: "windows", Category: "process_creation"}, "Image",
			record("DeviceProcessEvents", `{"FolderPath":"C:\\x\\a.exe"}`), "", []string{`C:\x\a.exe`}},
		{"user domain", sigma.Logsource{Product: "windows", Category: "process_creation"}, "User",
			record("DeviceProcessEvents", `{"AccountDomain":"corp","AccountName":"jdoe"}`), "", []string{`corp\jdoe`}},
		{"user without domain", sigma.Logsource{Product: "windows", Category: "process_creation"}, "User",
			record("DeviceProcessEvents", `{"AccountDomain":null,"AccountName":"jdoe"}`), "", []string{`jdoe`}},
		{"linux user", sigma.Logsource{Product: "linux", Category: "process_creation"}, "User",
			record("DeviceProcessEvents", `{"AccountDomain":"h1","AccountName":"root"}`), "", []string{`root`}},
		{"hashes", sigma.Logsource{Product: "windows", Category: "process_creation"}, "Hashes",
			record("DeviceProcessEvents", `{"MD5":"aa","SHA1":"bb","SHA256":"cc"}`), "", []string{`MD5=aa,SHA1=bb,SHA256=cc`}},
		{"hashes absent", sigma.Logsource{Product: "windows", Category: "process_creation"}, "Hashes",
			record("DeviceProcessEvents", `{"MD5":null}`), "", nil},
		{"linux cwd from AdditionalFields text", sigma.Logsource{Product: "linux", Category: "process_creation"}, "CurrentDirectory",
			record("DeviceProcessEvents", `{"AdditionalFields":"{\"ProcessCurrentWorkingDirectory\":\"/tmp\"}"}`), "", []string{`/tmp`}},
		{"target object hklm", sigma.Logsource{Product: "windows", Category: "registry_set"}, "TargetObject",
			record("DeviceRegistryEvents", `{"RegistryKey":"HKEY_LOCAL_MACHINE\\SOFTWARE\\Run","RegistryValueName":"x"}`), "", []string{`HKLM\SOFTWARE\Run\x`}},
		{"target object hkcu is hku", sigma.Logsource{Product: "windows", Category: "registry_set"}, "TargetObject",
			record("DeviceRegistryEvents", `{"RegistryKey":"HKEY_CURRENT_USER\\S-1-5-21-1\\Environment","RegistryValueName":"v"}`), "", []string{`HKU\S-1-5-21-1\Environment\v`}},
		{"target object key only", sigma.Logsource{Product: "windows", Category: "registry_add"}, "TargetObject",
			record("DeviceRegistryEvents", `{"RegistryKey":"HKEY_CLASSES_ROOT\\CLSID\\{1}","RegistryValueName":""}`), "", []string{`HKCR\CLSID\{1}`}},
		{"target object previous key", sigma.Logsource{Product: "windows", Category: "registry_delete"}, "TargetObject",
			record("DeviceRegistryEvents", `{"RegistryKey":"","PreviousRegistryKey":"HKEY_USERS\\.DEFAULT\\K","PreviousRegistryValueName":"v"}`), "", []string{`HKU\.DEFAULT\K\v`}},
		{"details dword", sigma.Logsource{Product: "windows", Category: "registry_set"}, "Details",
			record("DeviceRegistryEvents", `{"RegistryValueData":"1","RegistryValueType":"Dword"}`), "", []string{`DWORD (0x00000001)`}},
		{"details string", sigma.Logsource{Product: "windows", Category: "registry_set"}, "Details",
			record("DeviceRegistryEvents", `{"RegistryValueData":"C:\\a.dll","RegistryValueType":"String"}`), "", []string{`C:\a.dll`}},
		{"event type", sigma.Logsource{Product: "windows", Category: "registry_event"}, "EventType",
			record("DeviceRegistryEvents", `{"ActionType":"RegistryKeyCreated"}`), "", []string{`CreateKey`}},
		{"initiated outbound", sigma.Logsource{Product: "windows", Category: "network_connection"}, "Initiated",
			record("DeviceNetworkEvents", `{"ActionType":"ConnectionSuccess"}`), "", []string{`true`}},
		{"initiated attempt", sigma.Logsource{Product: "windows", Category: "network_connection"}, "Initiated",
			record("DeviceNetworkEvents", `{"ActionType":"ConnectionAttempt"}`), "", []string{`true`}},
		{"initiated inbound attempt", sigma.Logsource{Product: "windows", Category: "network_connection"}, "Initiated",
			record("DeviceNetworkEvents", `{"ActionType":"InboundConnectionAttempt"}`), "", []string{`false`}},
		{"initiated inbound", sigma.Logsource{Product: "windows", Category: "network_connection"}, "Initiated",
			record("DeviceNetworkEvents", `{"ActionType":"InboundConnectionAccepted"}`), "", []string{`false`}},
		{"port number", sigma.Logsource{Product: "windows", Category: "network_connection"}, "DestinationPort",
			record("DeviceNetworkEvents", `{"RemotePort":443}`), "", []string{`443`}},
		{"hostname from url", sigma.Logsource{Product: "windows", Category: "network_connection"}, "DestinationHostname",
			record("DeviceNetworkEvents", `{"RemoteUrl":"https://a.ngrok.io:8443/x"}`), "", []string{`a.ngrok.io`}},
		{"hostname bare", sigma.Logsource{Product: "windows", Category: "network_connection"}, "DestinationHostname",
			record("DeviceNetworkEvents", `{"RemoteUrl":"outlook.office365.com"}`), "", []string{`outlook.office365.com`}},
		{"pipe name", sigma.Logsource{Product: "windows", Category: "pipe_created"}, "PipeName",
			record("DeviceEvents", `{"AdditionalFields":{"PipeName":"\\Device\\NamedPipe\\PSEXESVC"}}`), "", []string{`\PSEXESVC`}},
		{"raw property", sigma.Logsource{Product: "windows", Category: "process_creation"}, "properties.MachineGroup",
			record("DeviceProcessEvents", `{"MachineGroup":"Servers"}`), "", []string{`Servers`}},
		{"ecs nested", sigma.Logsource{Product: "microsoft_defender_xdr"}, "host.name",
			record("DeviceProcessEvents", `{}`), `{"host":{"name":"ws1"}}`, []string{`ws1`}},
		{"ecs array", sigma.Logsource{Product: "microsoft_defender_xdr"}, "related.user",
			record("DeviceProcessEvents", `{}`), `{"related":{"user":["a","b"]}}`, []string{`a`, `b`}},
		{"ecs absent without document", sigma.Logsource{Product: "microsoft_defender_xdr"}, "host.name",
			record("DeviceProcessEvents", `{}`), "", nil},
	}
	m := Default()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, ok := m.Field(c.ls, c.field)
			if !ok {
				t.Fatalf("field %s not mapped for %+v", c.field, c.ls)
			}
			r := m.NewRecord()
			var ecs []byte
			if c.ecs != "" {
				ecs = []byte(c.ecs)
			}
			if err := r.Reset(c.record, ecs); err != nil {
				t.Fatal(err)
			}
			vals, ok := r.Get(key)
			var got []string
			for _, v := range vals {
				got = append(got, v.S)
			}
			if !ok {
				got = nil
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") || (got == nil) != (c.want == nil) {
				t.Fatalf("got %q (present %v), want %q", got, ok, c.want)
			}
		})
	}
}

func TestKeywordValues(t *testing.T) {
	r := Default().NewRecord()
	if err := r.Reset(record("DeviceProcessEvents", `{"ProcessCommandLine":"C:\\Windows\\x.exe -a","ProcessId":5,"AccountSid":null,"AdditionalFields":{"a":1}}`), nil); err != nil {
		t.Fatal(err)
	}
	vals, ok := r.Get(sigma.KeywordKey)
	var got []string
	for _, v := range vals {
		got = append(got, v.S)
	}
	if !ok || strings.Join(got, "|") != `C:\Windows\x.exe -a|5|{"a":1}` {
		t.Fatalf("keyword values %q", got)
	}
}

func TestNullIsPresent(t *testing.T) {
	m := Default()
	key, _ := m.Field(sigma.Logsource{Product: "windows", Category: "process_creation"}, "CommandLine")
	r := m.NewRecord()
	if err := r.Reset(record("DeviceProcessEvents", `{"ProcessCommandLine":null}`), nil); err != nil {
		t.Fatal(err)
	}
	vals, ok := r.Get(key)
	if !ok || len(vals) != 1 || vals[0].Kind != sigma.KindNull {
		t.Fatalf("got %v %v, want one null value", vals, ok)
	}
}

func TestScope(t *testing.T) {
	m := Default()
	actionKey := m.register(FieldSpec{Prop: "ActionType"})
	cases := []struct {
		ls       sigma.Logsource
		tables   string
		actions  string
		platform string
		err      bool
	}{
		{sigma.Logsource{Product: "windows", Category: "process_creation"}, "DeviceProcessEvents", "", "windows,unknown", false},
		{sigma.Logsource{Product: "macos", Category: "process_creation"}, "DeviceProcessEvents", "", "macos,posix,unknown", false},
		{sigma.Logsource{Product: "linux", Category: "network_connection"}, "DeviceNetworkEvents", "", "linux,posix,unknown", false},
		{sigma.Logsource{Product: "windows", Category: "registry_set"}, "DeviceRegistryEvents", "RegistryValueSet", "windows,unknown", false},
		{sigma.Logsource{Product: "windows", Category: "pipe_created"}, "DeviceEvents", "NamedPipeEvent", "windows,unknown", false},
		{sigma.Logsource{Product: "windows", Category: "driver_load"}, "DeviceEvents", "DriverLoad", "windows,unknown", false},
		{sigma.Logsource{Product: "windows", Category: "create_remote_thread"}, "DeviceEvents", "CreateRemoteThreadApiCall", "windows,unknown", false},
		{sigma.Logsource{Product: "microsoft_defender_xdr", Service: "alerts"}, "AlertInfo,AlertEvidence", "", "", false},
		{sigma.Logsource{Product: "windows", Category: "file_access"}, "", "", "", true},
		{sigma.Logsource{Product: "aws", Service: "cloudtrail"}, "", "", "", true},
	}
	for _, c := range cases {
		s, err := m.Scope(c.ls)
		if (err != nil) != c.err {
			t.Errorf("%+v: error %v", c.ls, err)
			continue
		}
		var platform []string
		for k, v := range s.Require {
			if k != actionKey {
				platform = append(platform, v...)
			}
		}
		if got := strings.Join(s.Tables, ","); got != c.tables {
			t.Errorf("%+v: tables %q, want %q", c.ls, got, c.tables)
		}
		if got := strings.Join(s.Require[actionKey], ","); got != c.actions {
			t.Errorf("%+v: action types %q, want %q", c.ls, got, c.actions)
		}
		if got := strings.Join(platform, ","); got != c.platform {
			t.Errorf("%+v: platforms %q, want %q", c.ls, got, c.platform)
		}
	}
}

// TestPlatformFromDeviceInfo: a DeviceInfo record tells the device's
// platform, which refines posix paths and decides when paths do not.
func TestPlatformFromDeviceInfo(t *testing.T) {
	m := Default()
	key := m.register(FieldSpec{Platform: []string{"FolderPath", "InitiatingProcessFolderPath"}})
	r := m.NewRecord()
	for _, info := range []string{
		`{"DeviceId":"mac1","OSPlatform":"macOS"}`,
		`{"DeviceId":"lin1","OSPlatform":"Linux"}`,
		`{"DeviceId":"win1","OSPlatform":"Windows11"}`,
		`{"DeviceId":"odd","OSPlatform":"SomethingNew"}`,
	} {
		if err := r.Reset(record("DeviceInfo", info), nil); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct{ props, want string }{
		{`{"DeviceId":"mac1","FolderPath":"/bin/launchctl"}`, PlatformMacOS},
		{`{"DeviceId":"lin1","FolderPath":"/usr/bin/ncat"}`, PlatformLinux},
		{`{"DeviceId":"other","FolderPath":"/usr/bin/ncat"}`, PlatformPosix},
		{`{"DeviceId":"odd","FolderPath":"/usr/bin/ncat"}`, PlatformPosix},
		{`{"DeviceId":"win1","FolderPath":"System"}`, PlatformWindows},
		{`{"DeviceId":"mac1"}`, PlatformMacOS},
		{`{"DeviceId":"nobody"}`, PlatformUnknown},
	}
	for _, c := range cases {
		if err := r.Reset(record("DeviceProcessEvents", c.props), nil); err != nil {
			t.Fatal(err)
		}
		vals, _ := r.Get(key)
		if len(vals) != 1 || vals[0].S != c.want {
			t.Errorf("%s: platform %v, want %s", c.props, vals, c.want)
		}
	}
}

func TestDeviceCacheBounded(t *testing.T) {
	c := newDeviceCache(3)
	for i := 0; i < 10; i++ {
		c.learn(string(rune('a'+i)), "Linux")
	}
	if len(c.byID) != 3 || c.platform([]byte("j")) != PlatformLinux || c.platform([]byte("a")) != "" {
		t.Fatalf("cache %v", c.byID)
	}
}

func TestPlatform(t *testing.T) {
	m := Default()
	key := m.register(FieldSpec{Platform: []string{"FolderPath", "InitiatingProcessFolderPath"}})
	cases := map[string]string{
		`{"FolderPath":"C:\\Windows\\x.exe"}`:                           PlatformWindows,
		`{"FolderPath":"c:/tools/x.exe"}`:                               PlatformWindows,
		`{"FolderPath":"\\\\srv\\share\\x.exe"}`:                        PlatformWindows,
		`{"FolderPath":"/usr/bin/ps"}`:                                  PlatformPosix,
		`{"FolderPath":"System","InitiatingProcessFolderPath":"c:\\x"}`: PlatformWindows,
		`{"FolderPath":"","InitiatingProcessFolderPath":"/bin/zsh"}`:    PlatformPosix,
		`{"FolderPath":null}`:                                           PlatformUnknown,
		`{}`:                                                            PlatformUnknown,
	}
	for props, want := range cases {
		r := m.NewRecord()
		if err := r.Reset(record("DeviceProcessEvents", props), nil); err != nil {
			t.Fatal(err)
		}
		vals, _ := r.Get(key)
		if len(vals) != 1 || vals[0].S != want {
			t.Errorf("%s: platform %v, want %s", props, vals, want)
		}
	}
}

func TestUserMappingFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("fieldsets:\n  process:\n    FileVersion: ProcessVersionInfoProductVersion\n"), 0o600)
	m, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Field(sigma.Logsource{Product: "windows", Category: "process_creation"}, "FileVersion"); !ok {
		t.Fatal("user field not added")
	}
	if _, ok := m.Field(sigma.Logsource{Product: "windows", Category: "process_creation"}, "Image"); !ok {
		t.Fatal("built-in field lost")
	}
	// The example of docs/detection.md: a logsource the built-in mapping
	// lacks becomes usable.
	example := filepath.Join(dir, "example.yml")
	os.WriteFile(example, []byte(`fieldsets:
  process:
    FileVersion: ProcessVersionInfoProductVersion
    ParentUser: {join: [InitiatingProcessAccountDomain, InitiatingProcessAccountName], sep: '\'}
logsources:
  - category: file_access
    products: [windows]
    tables: [DeviceEvents]
    action_types: [SensitiveFileRead]
    fieldsets: [initiating, file]
`), 0o600)
	m2, err := New(example)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := m2.Scope(sigma.Logsource{Product: "windows", Category: "file_access"}); err != nil || strings.Join(s.Tables, ",") != "DeviceEvents" {
		t.Fatalf("file_access scope %+v, %v", s, err)
	}
	if _, ok := m2.Field(sigma.Logsource{Product: "windows", Category: "file_access"}, "TargetFilename"); !ok {
		t.Fatal("file_access fields not mapped")
	}
	for name, content := range map[string]string{
		"unknown top key":  "fieldsetz: {}\n",
		"unknown spec key": "fieldsets:\n  process:\n    X: {joinn: [A]}\n",
		"two derivations":  "fieldsets:\n  process:\n    X: {join: [A], hashes: [B]}\n",
		"unknown fieldset": "logsources:\n  - category: c\n    tables: [T]\n    fieldsets: [nope]\n",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yml")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := New(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming %s", name, err, p)
		}
	}
}
