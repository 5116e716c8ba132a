package configs

import _ "embed"

// demoYAML is configs/demo.yaml, built into the binary for `tern demo`.
//
//go:embed demo.yaml
var demoYAML []byte

// DemoName is the name Demo's topology is parsed under, as it appears in
// messages and Topology.Path.
const DemoName = "configs/demo.yaml"

// Demo returns the demo topology (configs/demo.yaml, embedded), parsed,
// defaulted and validated. Each call returns a new Topology.
func Demo() (*Topology, error) {
	return Parse(DemoName, demoYAML)
}
