package rules

import (
	"fmt"
	"testing"

	"github.com/defender-intake/defender-intake/internal/detect/fieldmap"
	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// TestCategories runs one rule of our own per Sysmon category mapped to
// DeviceEvents and the other Device tables on Defender records: the
// action type selects the event, the mapped fields match, and a record of
// another action type does not.
func TestCategories(t *testing.T) {
	cases := []struct {
		category, detection string
		table, props        string
		want                bool
	}{
		{"pipe_created", "PipeName: '\\PSEXESVC'\n    Image|endswith: '\\psexesvc.exe'", "DeviceEvents",
			`{"ActionType":"NamedPipeEvent","InitiatingProcessFolderPath":"C:\\Windows\\PSEXESVC.exe","AdditionalFields":"{\"PipeName\":\"\\\\Device\\\\NamedPipe\\\\PSEXESVC\",\"NamedPipeEnd\":\"Server\"}"}`, true},
		{"pipe_created", "PipeName: '\\PSEXESVC'", "DeviceEvents",
			`{"ActionType":"ProcessPrimaryTokenModified","InitiatingProcessFolderPath":"C:\\x.exe","AdditionalFields":"{\"PipeName\":\"\\\\Device\\\\NamedPipe\\\\PSEXESVC\"}"}`, false},
		{"driver_load", "Hashes|contains: 'SHA256=ab12'\n    ImageLoaded|endswith: '.sys'", "DeviceEvents",
			`{"ActionType":"DriverLoad","FolderPath":"C:\\Windows\\System32\\drivers\\evil.sys","SHA256":"ab12","SHA1":"cd34"}`, true},
		{"create_remote_thread", "SourceImage|endswith: '\\powershell.exe'\n    TargetImage|endswith: '\\lsass.exe'", "DeviceEvents",
			`{"ActionType":"CreateRemoteThreadApiCall","InitiatingProcessFolderPath":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","FolderPath":"C:\\Windows\\System32\\lsass.exe"}`, true},
		{"registry_delete", "TargetObject|endswith: '\\Run\\Updater'\n    EventType: DeleteValue", "DeviceRegistryEvents",
			`{"ActionType":"RegistryValueDeleted","RegistryKey":"","PreviousRegistryKey":"HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run","PreviousRegistryValueName":"Updater","InitiatingProcessFolderPath":"C:\\Windows\\reg.exe"}`, true},
		{"registry_set", "TargetObject|startswith: 'HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\'\n    Details: 'DWORD (0x00000001)'", "DeviceRegistryEvents",
			`{"ActionType":"RegistryValueSet","RegistryKey":"HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender","RegistryValueName":"DisableAntiSpyware","RegistryValueType":"Dword","RegistryValueData":"1","InitiatingProcessFolderPath":"C:\\Windows\\reg.exe"}`, true},
		{"registry_set", "TargetObject|contains: '\\Windows Defender\\'", "DeviceRegistryEvents",
			`{"ActionType":"RegistryKeyCreated","RegistryKey":"HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\x","InitiatingProcessFolderPath":"C:\\Windows\\reg.exe"}`, false},
		{"file_rename", "SourceFilename|endswith: '.docx'\n    TargetFilename|endswith: '.locked'", "DeviceFileEvents",
			`{"ActionType":"FileRenamed","FolderPath":"C:\\Users\\a\\report.docx.locked","PreviousFolderPath":"C:\\Users\\a","PreviousFileName":"report.docx"}`, true},
		{"file_delete", "TargetFilename|endswith: '\\ConsoleHost_history.txt'", "DeviceFileEvents",
			`{"ActionType":"FileDeleted","FolderPath":"C:\\Users\\a\\AppData\\Roaming\\Microsoft\\Windows\\PowerShell\\PSReadLine\\ConsoleHost_history.txt"}`, true},
		{"network_connection", "Initiated: 'true'\n    DestinationHostname|endswith: '.ngrok.io'\n    DestinationPort: 443", "DeviceNetworkEvents",
			`{"ActionType":"ConnectionSuccess","RemoteUrl":"https://abc.ngrok.io/x","RemotePort":443,"InitiatingProcessFolderPath":"C:\\x.exe"}`, true},
		{"image_load", "ImageLoaded|endswith: '\\dbghelp.dll'\n    Image|endswith: '\\rundll32.exe'", "DeviceImageLoadEvents",
			`{"ActionType":"ImageLoaded","FolderPath":"C:\\Windows\\System32\\dbghelp.dll","InitiatingProcessFolderPath":"C:\\Windows\\System32\\rundll32.exe"}`, true},
	}
	m := fieldmap.Default()
	for i, c := range cases {
		t.Run(fmt.Sprintf("%d-%s", i, c.category), func(t *testing.T) {
			src := fmt.Sprintf("title: t\nid: c%d\nlogsource:\n  product: windows\n  category: %s\ndetection:\n  sel:\n    %s\n  condition: sel\nlevel: low\n", i, c.category, c.detection)
			e, err := sigma.Compile([]sigma.Source{{Path: "c.yml", Data: []byte(src)}}, sigma.Options{Mapper: m})
			if err != nil || len(e.Rules()) != 1 {
				t.Fatalf("compile: %v %+v", err, e.Skipped())
			}
			rec := m.NewRecord()
			if err := rec.Reset([]byte(`{"category":"AdvancedHunting-`+c.table+`","properties":`+c.props+`}`), nil); err != nil {
				t.Fatal(err)
			}
			if got := len(e.NewEvaluator().Match(rec, nil)) == 1; got != c.want {
				t.Fatalf("matched %v, want %v", got, c.want)
			}
		})
	}
}
