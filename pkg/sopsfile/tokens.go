package sopsfile

// countTokens returns an upper bound on the tokens of data read as YAML or
// JSON, or a number above limit as soon as it passes it: the
// whitespace-separated words, plus every flow, key or value indicator
// (, [ ] { } : ?) wherever it stands. It knows nothing of quoting or block
// scalars, on purpose: an input cannot hide tokens from it by opening a
// quote the parser does not see. Every node a YAML or JSON parser builds
// owns a word or an indicator, except implicit nulls and the collections
// holding them, so a document has at most three nodes per token.
func countTokens(data []byte, limit int) int {
	n := 0
	inWord := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case ' ', '\t', '\n', '\r':
			inWord = false
			continue
		case 0xc2: // NEL, a YAML line break
			if i+1 < len(data) && data[i+1] == 0x85 {
				inWord = false
				i++
				continue
			}
		case 0xe2: // LS and PS, YAML line breaks
			if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xa8 || data[i+2] == 0xa9) {
				inWord = false
				i += 2
				continue
			}
		case ',', '[', ']', '{', '}', ':', '?':
			n++
		}
		if !inWord {
			n++
			inWord = true
		}
		if n > limit {
			return n
		}
	}
	return n
}

// jsonDepth returns the deepest nesting of objects and arrays in data read
// as JSON, or a number above limit as soon as it passes it. JSON strings
// are the only place a bracket is not one, and they cannot hide anything:
// a decoder reads them the same way.
func jsonDepth(data []byte, limit int) int {
	depth, deepest := 0, 0
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > deepest {
				deepest = depth
				if deepest > limit {
					return deepest
				}
			}
		case ']', '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return deepest
}
