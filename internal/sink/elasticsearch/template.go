package elasticsearch

import "encoding/json"

// templateName is the index template installed by setup.
const templateName = "defender-intake"

// fieldTypes are the mappings of the ECS fields our documents carry that
// must not be left to dynamic mapping: dates, addresses, numbers, and
// the searchable text fields. Every other string is a keyword (dynamic
// template), as ECS wants for identifiers.
var fieldTypes = map[string]map[string]any{
	"@timestamp":                             {"type": "date"},
	"event.ingested":                         {"type": "date"},
	"event.created":                          {"type": "date"},
	"event.dataset":                          {"type": "keyword"},
	"event.category":                         {"type": "keyword"},
	"event.type":                             {"type": "keyword"},
	"event.action":                           {"type": "keyword"},
	"action.type":                            {"type": "keyword"},
	"host.name":                              {"type": "keyword"},
	"host.id":                                {"type": "keyword"},
	"user.name":                              {"type": "keyword"},
	"user.domain":                            {"type": "keyword"},
	"process.name":                           {"type": "keyword"},
	"process.pid":                            {"type": "long"},
	"process.command_line":                   {"type": "keyword", "ignore_above": 32766, "fields": map[string]any{"text": map[string]any{"type": "text"}}},
	"process.parent.name":                    {"type": "keyword"},
	"process.parent.pid":                     {"type": "long"},
	"process.parent.command_line":            {"type": "keyword", "ignore_above": 32766, "fields": map[string]any{"text": map[string]any{"type": "text"}}},
	"file.name":                              {"type": "keyword"},
	"file.path":                              {"type": "keyword"},
	"file.size":                              {"type": "long"},
	"file.hash.sha256":                       {"type": "keyword"},
	"file.hash.sha1":                         {"type": "keyword"},
	"file.hash.md5":                          {"type": "keyword"},
	"registry.key":                           {"type": "keyword"},
	"source.ip":                              {"type": "ip"},
	"source.port":                            {"type": "long"},
	"destination.ip":                         {"type": "ip"},
	"destination.port":                       {"type": "long"},
	"related.ip":                             {"type": "ip"},
	"url.original":                           {"type": "keyword", "ignore_above": 8191, "fields": map[string]any{"text": map[string]any{"type": "text"}}},
	"email.from.address":                     {"type": "keyword"},
	"microsoft.defender.alert.id":            {"type": "keyword"},
	"message":                                {"type": "text"},
	"defender_intake.origin.offset":          {"type": "long"},
	"defender_intake.origin.sequence_number": {"type": "long"},
	"defender_intake.origin.enqueued_time":   {"type": "date"},
}

// indexTemplate returns the composable index template for the data
// streams logs-defender.*-*. Its priority is above the built-in logs-*-*
// template of Elasticsearch (100), so ours applies.
func indexTemplate() []byte {
	props := map[string]any{}
	for path, m := range fieldTypes {
		put(props, path, m)
	}
	t := map[string]any{
		"index_patterns": []string{"logs-defender.*-*"},
		"data_stream":    map[string]any{},
		"priority":       200,
		"template": map[string]any{
			"settings": map[string]any{"index.mapping.total_fields.limit": 5000},
			"mappings": map[string]any{
				"dynamic_templates": []any{map[string]any{"strings_as_keyword": map[string]any{
					"match_mapping_type": "string",
					"mapping":            map[string]any{"type": "keyword", "ignore_above": 1024},
				}}},
				"properties": props,
			},
		},
		"_meta": map[string]any{"managed_by": "defender-intake"},
	}
	b, _ := json.Marshal(t)
	return b
}

// put sets the mapping of a dotted path as nested properties objects.
func put(props map[string]any, path string, m map[string]any) {
	for i := 0; i < len(path); i++ {
		if path[i] == '.' && path != "@timestamp" {
			head := path[:i]
			obj, _ := props[head].(map[string]any)
			if obj == nil {
				obj = map[string]any{"properties": map[string]any{}}
				props[head] = obj
			}
			put(obj["properties"].(map[string]any), path[i+1:], m)
			return
		}
	}
	props[path] = m
}
