package config

import (
	"strings"
	"testing"
)

type flowSection struct {
	Brokers []string `yaml:"brokers"`
	SASL    struct {
		Mechanism string `yaml:"mechanism"`
		Username  string `yaml:"username"`
		Password  Secret `yaml:"password"`
	} `yaml:"sasl"`
	Port int `yaml:"port"`
}

func (s *flowSection) Validate() error { return nil }

// ${VAR} works wherever a value can be written, flow collections included,
// and the value arrives byte for byte whatever YAML syntax it holds.
func TestEnvInFlowStyleIsByteExact(t *testing.T) {
	values := []string{
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=abc+/def==;EntityPath=hub",
		"a: b", "x # not a comment", "one, two", "]}", `"quoted"`, `'single'`, "two\nlines", " padded ", "~", "null", "true", "123", "&anchor", "*alias", "- dash", "{a: 1}", "%d", "$", "$$",
	}
	shapes := []struct {
		name, yaml string
		get        func(*flowSection) string
	}{
		{"flow mapping", "sasl: {mechanism: PLAIN, username: $$ConnectionString, password: ${CFGTEST_V}}", func(s *flowSection) string { return s.SASL.Password.Value() }},
		{"flow sequence", "brokers: [${CFGTEST_V}]", func(s *flowSection) string { return s.Brokers[0] }},
		{"block", "sasl:\n      password: ${CFGTEST_V}", func(s *flowSection) string { return s.SASL.Password.Value() }},
		{"double quoted", `sasl: {password: "${CFGTEST_V}"}`, func(s *flowSection) string { return s.SASL.Password.Value() }},
		{"single quoted", `brokers: ['${CFGTEST_V}']`, func(s *flowSection) string { return s.Brokers[0] }},
	}
	for _, sh := range shapes {
		for _, v := range values {
			t.Run(sh.name+"/"+v, func(t *testing.T) {
				t.Setenv("CFGTEST_V", v)
				y := "sources:\n  - type: flowtest\n    " + sh.yaml + "\nsinks:\n  - {type: file, path: /tmp/x}\n"
				c, err := Parse("cfg.yaml", []byte(y))
				if err != nil {
					t.Fatal(err)
				}
				s := c.Sources[0].Section.(*flowSection)
				if got := sh.get(s); got != v {
					t.Errorf("value = %q, want %q", got, v)
				}
				if sh.name == "flow mapping" && (s.SASL.Username != "$ConnectionString" || s.SASL.Mechanism != "PLAIN") {
					t.Errorf("sasl = %+v", s.SASL)
				}
			})
		}
	}
}

func TestEnvRefEdges(t *testing.T) {
	t.Setenv("CFGTEST_PORT", "9000")
	t.Setenv("CFGTEST_B", "b:9093")
	tests := []struct {
		name, yaml string
		check      func(*flowSection) bool
		wantErr    string
	}{
		{name: "typed from a flow value", yaml: "{port: ${CFGTEST_PORT}}", check: func(s *flowSection) bool { return s.Port == 9000 }},
		{name: "several in one flow sequence", yaml: "{brokers: [a:9092, ${CFGTEST_B}, '${CFGTEST_B}x']}", check: func(s *flowSection) bool {
			return strings.Join(s.Brokers, "|") == "a:9092|b:9093|b:9093x"
		}},
		{name: "quoted $${X} stays literal in flow", yaml: "{brokers: ['$${CFGTEST_B}']}", check: func(s *flowSection) bool { return s.Brokers[0] == "${CFGTEST_B}" }},
		{name: "unset in flow names its line", yaml: "{brokers: [${CFGTEST_NOT_SET_ANYWHERE}]}", wantErr: "cfg.yaml:2: environment variable CFGTEST_NOT_SET_ANYWHERE is not set"},
		{name: "two unset on one line name their keys", yaml: "{brokers: [a:1, ${CFGTEST_NOT_SET_A}], sasl: {password: ${CFGTEST_NOT_SET_B}}}",
			wantErr: "cfg.yaml:2: environment variable CFGTEST_NOT_SET_A is not set (in sources[0].brokers[1])\ncfg.yaml:2: environment variable CFGTEST_NOT_SET_B is not set (in sources[0].sasl.password)"},
		{name: "a key is not expanded", yaml: "{${CFGTEST_B}: 1}", wantErr: `unknown key "${CFGTEST_B}"`},
		{name: "unquoted $${X} stays literal in flow", yaml: "{brokers: [$${CFGTEST_B}, x$${CFGTEST_B}y]}", check: func(s *flowSection) bool { return strings.Join(s.Brokers, "|") == "${CFGTEST_B}|x${CFGTEST_B}y" }},
		{name: "escapes and references side by side", yaml: "{brokers: [$$$${CFGTEST_B}, $$${CFGTEST_B}, '$${', a$$b]}", check: func(s *flowSection) bool {
			return strings.Join(s.Brokers, "|") == "$${CFGTEST_B}|$b:9093|${|a$b"
		}},
		{name: "a shell default is refused", yaml: "{brokers: ['${CFGTEST_B:-x:1}']}", wantErr: `cfg.yaml:2: "${CFGTEST_B:-x:1}" is not a reference`},
		{name: "an unclosed reference is refused", yaml: "{brokers: ['x${CFGTEST_B']}", wantErr: `cfg.yaml:2: "${CFGTEST_B" is not a reference`},
		{name: "a name that is not one is refused", yaml: "{brokers: ['$${ok} ${1X}']}", wantErr: `cfg.yaml:2: "${1X}" is not a reference`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := "sources:\n  - " + strings.Replace(tc.yaml, "{", "{type: flowtest, ", 1) + "\nsinks:\n  - {type: file, path: /tmp/x}\n"
			c, err := Parse("cfg.yaml", []byte(y))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := c.Sources[0].Section.(*flowSection); !tc.check(s) {
				t.Errorf("got %+v", s)
			}
		})
	}
}

// A value taken from the environment is never printed by a message about
// it, wherever it went by mistake (any variable may hold a secret): the
// message shows its ${NAME}.
func TestEnvValuesNeverInMessages(t *testing.T) {
	const secret = "hunter2;SharedAccessKey=abc+/def=="
	t.Setenv("CFGTEST_SECRET", secret)
	t.Setenv("CFGTEST_SHORT", "pw12")
	base := "sources:\n  - type: flowtest\nsinks:\n  - {type: file, path: /tmp/x}\n"
	tests := []struct{ name, yaml string }{
		{"into an int", base + "pipeline:\n  workers: ${CFGTEST_SECRET}\n"},
		{"a short one into an int", base + "pipeline:\n  workers: ${CFGTEST_SHORT}\n"},
		{"into a list", "sources:\n  - {type: flowtest, brokers: ${CFGTEST_SECRET}}\nsinks:\n  - {type: file, path: /tmp/x}\n"},
		{"into an int of a component", "sources:\n  - {type: flowtest, port: ${CFGTEST_SECRET}}\nsinks:\n  - {type: file, path: /tmp/x}\n"},
		{"a value checked by Validate", base + "log:\n  level: ${CFGTEST_SECRET}\n"},
		{"an address checked by Validate", base + "server:\n  listen: ${CFGTEST_SECRET}\n"},
		{"inside a longer value", base + "log:\n  format: 'x ${CFGTEST_SECRET} y'\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("cfg.yaml", []byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, leak := range []string{"hunter2", "SharedAccessKey", "pw12"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("the message shows the value: %v", err)
				}
			}
			if !strings.Contains(err.Error(), "${CFGTEST_S") && !strings.Contains(err.Error(), "server.listen: not host:port") {
				t.Errorf("the message does not name the variable: %v", err)
			}
		})
	}
}

// A credential written in the file itself is not printed either, when a
// connection string lands where an error quotes the value.
func TestLiteralCredentialsNeverInMessages(t *testing.T) {
	base := "sources:\n  - type: flowtest\nsinks:\n  - {type: file, path: /tmp/x}\n"
	for _, v := range []string{
		"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=hunter2hunter2=",
		"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=hunter2hunter2==;EndpointSuffix=core.windows.net",
		"https://a.blob.core.windows.net/c?sv=2022&sig=hunter2hunter2%3D",
		"Host=db;Username=u;Password=hunter2hunter2",
	} {
		c, err := Parse("cfg.yaml", []byte(base+"log:\n  level: '"+v+"'\n"))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "[REDACTED]") {
			t.Errorf("%s: error %v", v, err)
		}
	}
}
