// Package configs is Tern's topology: the schema of the one YAML file that
// describes the whole CDN (sites, datacenters with their edge and shield
// nodes, built-in origins, cache and upstream settings), and the code that
// loads it.
//
// The schema is the set of Go structs in topology.go; the doc comment of
// each field is its reference documentation, including its default.
//
// Load and Parse decode a file strictly (unknown fields and values of the
// wrong type are errors), apply the documented defaults (ApplyDefaults)
// and check the rules the types cannot (Validate). Every problem is
// reported, as an ErrorList of *Error, each naming the file, the line and
// the field:
//
//	configs/demo.yaml:14: datacenters[0].edges[1].listen: port "80a" is not a number
//
// Demo returns the demo topology, configs/demo.yaml, embedded in the
// binary. Lookup, Nodes, Shields and Edges find the nodes a process runs.
package configs
