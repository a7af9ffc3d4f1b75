"""Singer tap that reads Planhat tickets."""
