package sigma

import "sort"

// orderByCost reorders the operands of every AND and OR so the cheapest
// are tested first: evaluation stops at the first false (AND) or true
// (OR) operand, so a regular expression or a long list of values is only
// tried when the cheap tests did not already decide. Operands have no side
// effects, so the order never changes the result.
func orderByCost(n *node) int {
	switch n.op {
	case opLeaf:
		return leafCost(n.cond)
	case opNot:
		return orderByCost(n.kids[0])
	case opAnd, opOr, opAtLeast:
		costs := make(map[*node]int, len(n.kids))
		total := 0
		for _, k := range n.kids {
			c := orderByCost(k)
			costs[k] = c
			total += c
		}
		if n.op != opAtLeast {
			sort.SliceStable(n.kids, func(i, j int) bool { return costs[n.kids[i]] < costs[n.kids[j]] })
		}
		return total
	}
	return 1
}

// leafCost is a rough relative cost of testing one field condition.
func leafCost(fc *fieldCond) int {
	if fc.anyOf != nil {
		return 8 + matcherCost(fc.rest)
	}
	c := 1
	for _, g := range fc.groups {
		c += matcherCost(g)
	}
	return c
}

func matcherCost(ms []valueMatcher) int {
	c := 0
	for i := range ms {
		switch m := &ms[i]; m.kind {
		case vmRegexp:
			c += 40
		case vmString:
			switch m.str.kind {
			case strContains:
				c += 4
			case strGlob:
				c += 8
			default:
				c++
			}
		case vmFieldRef:
			c += 4
		default:
			c += 2
		}
	}
	return c
}
