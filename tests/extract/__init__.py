"""The extract command and record (extract/)."""
