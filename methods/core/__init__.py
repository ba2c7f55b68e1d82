"""Parts shared by the methods: the method contract (`base`), the networks (`nets`) and the Stein
discrepancies (`stein`)."""
