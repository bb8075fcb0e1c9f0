package sopsfile

// DefaultMaxSize is the largest input Decrypt accepts unless MaxSize says
// otherwise. A Kubernetes Secret holds at most 1 MiB.
const DefaultMaxSize = 8 << 20

// Fixed bounds on what Decrypt hands to the sops library. They are far
// above what sops writes for Kubernetes manifests and Helm values, and keep
// a hostile file to a few hundred megabytes of allocation and well under
// a second.
const (
	// maxTokens bounds countTokens, which bounds the nodes a parser
	// builds: at most three per token.
	maxTokens = 1 << 17
	// maxDepth bounds nesting, since the sops store and tree walk
	// recurse.
	maxDepth = 100
	// maxMappingKeys bounds the keys of a YAML mapping and maxKeyCompare
	// their number times their bytes, since the YAML store's duplicate key
	// check compares each key with every other.
	maxMappingKeys = 1 << 13
	maxKeyCompare  = 1 << 30
	// maxMasterKeys bounds the keys (of any type) in the metadata, and
	// maxWrappedKey and maxWrappedKeys the size of each age-wrapped data
	// key and of all: each recipient stanza in one costs an X25519 (or
	// ML-KEM) operation per identity. An X25519-wrapped key takes about
	// 400 bytes, a post-quantum one about 2 KiB.
	maxMasterKeys  = 128
	maxWrappedKey  = 16 << 10
	maxWrappedKeys = 128 << 10
	// maxRuleRegex bounds the regular expressions in the metadata
	// (encrypted_regex and the like), which sops compiles once per path
	// element of every value.
	maxRuleRegex = 1 << 10
	// maxWalkWork bounds the work the tree walk costs, in bytes of keys
	// joined into paths and regular expression evaluations (see
	// walkCost).
	maxWalkWork = 1 << 26
)

// Option changes how Decrypt bounds its input.
type Option func(*options)

type options struct {
	maxSize int
	values  func(ciphertext string, plaintext any)
}

// MaxSize makes Decrypt refuse inputs longer than n bytes instead of
// DefaultMaxSize. n <= 0 means DefaultMaxSize.
func MaxSize(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxSize = n
		}
	}
}

// Values makes Decrypt call fn, once the file's MAC is verified, with each
// encrypted value of the file and its plaintext (a string, int, float64 or
// bool, as the value's type says): a caller can then recognize the
// encrypted values wherever they travel, as a kustomize build moves them,
// and decrypt them there. Nothing is reported for a file that fails to
// decrypt.
func Values(fn func(ciphertext string, plaintext any)) Option {
	return func(o *options) { o.values = fn }
}

func newOptions(opts []Option) options {
	o := options{maxSize: DefaultMaxSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}
