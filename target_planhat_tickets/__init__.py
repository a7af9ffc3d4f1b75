"""Singer target that loads tickets into Planhat with bulk upserts."""
