"""Parts shared by the methods: the method contract (`base`) and its declared parameters (`params`); the update
blocks the methods are written from (`updates`) and the generator terms they sum (`terms`); the networks (`nets`,
`image_nets`), losses (`losses`), Stein discrepancies (`stein`, `ksd`) and the DAE score estimator (`entropy`); and
the fast paths behind the blocks (`fused`, `steps`, `optim`), which no method file imports."""
