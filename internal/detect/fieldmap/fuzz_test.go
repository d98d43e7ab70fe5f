package fieldmap

import (
	"testing"

	"github.com/defender-intake/defender-intake/internal/detect/sigma"
)

// FuzzRecord: any input either loads or is an error, and every mapped
// field of every logsource can then be read without a panic.
func FuzzRecord(f *testing.F) {
	f.Add([]byte(`{"category":"AdvancedHunting-DeviceRegistryEvents","properties":{"RegistryKey":"HKEY_LOCAL_MACHINE","RegistryValueData":"0x10","RegistryValueType":"Qword"}}`), []byte(`{"host":{"name":"x"}}`))
	f.Add([]byte(`{"properties":{"AdditionalFields":"{\"PipeName\":5}","RemoteUrl":"http://[::1]:80/"}}`), []byte(`[]`))
	f.Add([]byte(`[1]`), []byte(nil))
	m := Default()
	var keys []string
	for _, ls := range m.logsources {
		for _, fs := range ls.Fieldsets {
			for name := range m.fieldsets[fs] {
				sl := sigma.Logsource{Category: ls.Category, Service: ls.Service}
				if len(ls.Products) > 0 {
					sl.Product = ls.Products[0]
				}
				if k, ok := m.Field(sl, name); ok {
					keys = append(keys, k)
				}
			}
		}
	}
	k, _ := m.Field(sigma.Logsource{}, "host.name")
	keys = append(keys, k, sigma.KeywordKey)
	f.Fuzz(func(t *testing.T, raw, ecs []byte) {
		r := m.NewRecord()
		if err := r.Reset(raw, ecs); err != nil {
			return
		}
		_ = r.Table()
		for _, k := range keys {
			r.Get(k)
		}
	})
}
