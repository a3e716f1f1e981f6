"""The signed PDF batch record: snapshot, drawing, sealing and verification."""
