package sigma

import (
	"errors"
	"sort"
)

// Engine holds compiled rules indexed by table. It is immutable after
// Compile and safe for concurrent use; evaluation state lives in an
// Evaluator (one per goroutine).
type Engine struct {
	rules        []*Rule
	correlations []*Correlation
	skipped      []Skipped
	keys         []string // field id -> Event key
	tables       map[string]*tableIndex
	any          *tableIndex // rules for every table, used for unknown tables
}

// Compile loads and compiles rules. Rules that cannot be evaluated
// faithfully are returned as skipped, never loaded; an error is only
// returned for unusable options.
func Compile(sources []Source, opts Options) (*Engine, error) {
	if opts.Mapper == nil {
		return nil, errors.New("sigma: Options.Mapper is required")
	}
	c := &compiler{opts: opts, mapper: opts.Mapper, fields: map[string]int{}}
	e := &Engine{tables: map[string]*tableIndex{}}
	seen := map[string]string{}
	var pending []pendingCorrelation
	for _, src := range sources {
		for _, pd := range parseFile(src) {
			err := pd.err
			if err == nil && pd.doc.Correlation.Kind != 0 {
				pending = append(pending, pendingCorrelation{src: src, doc: pd.doc})
				continue
			}
			if err == nil {
				var r *Rule
				if r, err = c.compileRule(src, pd.doc); err == nil {
					if prev, dup := seen[r.ID]; dup && r.ID != "" {
						err = skipf("duplicate rule id", "%s also in %s", r.ID, prev)
					} else {
						seen[r.ID] = src.Path
						r.index = len(e.rules)
						e.rules = append(e.rules, r)
						continue
					}
				}
			}
			e.skip(src, pd.doc, err)
		}
	}
	for _, p := range pending {
		corr, err := c.compileCorrelation(p.src, p.doc, e.rules)
		if err != nil {
			e.skip(p.src, p.doc, err)
			continue
		}
		e.correlations = append(e.correlations, corr)
	}
	markCorrelationOnly(e.rules, e.correlations)
	e.keys = c.keys
	e.buildIndex()
	return e, nil
}

func (e *Engine) skip(src Source, doc *ruleDoc, err error) {
	sk := Skipped{Path: src.Path, Reason: "invalid rule", Detail: err.Error()}
	var se *skipError
	if errors.As(err, &se) {
		sk.Reason, sk.Detail = se.Reason, se.Detail
	}
	if doc != nil {
		sk.ID, sk.Title = doc.ID, doc.Title
	}
	e.skipped = append(e.skipped, sk)
}

// Correlations returns the loaded correlation rules.
func (e *Engine) Correlations() []*Correlation { return e.correlations }

// Rules returns the loaded rules.
func (e *Engine) Rules() []*Rule { return e.rules }

// Skipped returns the rules that did not load, with the reasons.
func (e *Engine) Skipped() []Skipped { return e.skipped }

// HasRules reports whether any rule can match events of table: when it
// is false, callers can skip evaluating (and even parsing) such events.
func (e *Engine) HasRules(table string) bool {
	return e.tables[table] != nil || len(e.any.rules) > 0
}

// Tables lists the tables that have rules of their own.
func (e *Engine) Tables() []string {
	var out []string
	for t := range e.tables {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (e *Engine) buildIndex() {
	byTable := map[string][]*Rule{}
	var anyTable []*Rule
	for _, r := range e.rules {
		if len(r.tables) == 0 {
			anyTable = append(anyTable, r)
			continue
		}
		for _, t := range r.tables {
			byTable[t] = append(byTable[t], r)
		}
	}
	for t, rules := range byTable {
		all := append(append([]*Rule(nil), rules...), anyTable...)
		sort.Slice(all, func(i, j int) bool { return all[i].index < all[j].index })
		e.tables[t] = newTableIndex(all)
	}
	e.any = newTableIndex(anyTable)
}
