"""Values the Pulumi CLI itself produced, copied from pulumi/pulumi's own tests.

They are the independent check that the local cloud speaks the CLI's format: the Go code
derived these keys, encrypted these values and wrote these files.
"""

from __future__ import annotations

# pulumi/pulumi tests/roundtrip/roundtrip_test.go, TestConfigRoundtripComments: a stack file
# the CLI encrypted with this passphrase, and the file it expects after
# `pulumi config set e E` and `pulumi config set --path c.c[2] three`.
ROUNDTRIP_PASSPHRASE = "TestConfigRoundtripComments"
ROUNDTRIP_SALT = "v1:ThS5UPxP9qc=:v1:UZYAXF+ylaJ0rGhv:9OTvBnOEDFgxs7btjzSu+LZ470vLpg=="
ROUNDTRIP_SECRET = "v1:T1ftqhY0hqr+EJK6:+jvd5PMecFx80tcavzuZY4tLatgIfoe/xR72GA=="
ROUNDTRIP_PLAINTEXT = "secret-value"  # what the CLI decrypts ROUNDTRIP_SECRET to
ROUNDTRIP_PROJECT = "name: foo\nruntime: yaml\n"
ROUNDTRIP_BEFORE = f"""
encryptionsalt: {ROUNDTRIP_SALT}
# 🔴 header comment
config:
  foo:a: some-value # 🟠 comment after value
  # 🟡 comment before key
  foo:b: some-value
  foo:c:
    a: A
    b: B
    c:
      - 1
      - 2
      - 3 # 🟢 comment in array
      # 🔵 comment after array
  foo:d:
    secure: {ROUNDTRIP_SECRET} # 🟣 comment on secret

# 🟥 footer comment"""
ROUNDTRIP_AFTER = f"""encryptionsalt: {ROUNDTRIP_SALT}
# 🔴 header comment
config:
  foo:a: some-value # 🟠 comment after value
  # 🟡 comment before key
  foo:b: some-value
  foo:c:
    a: A
    b: B
    c:
      - 1
      - 2
      - three # 🟢 comment in array
      # 🔵 comment after array
  foo:d:
    secure: {ROUNDTRIP_SECRET} # 🟣 comment on secret
  foo:e: E

# 🟥 footer comment
"""

# pulumi/pulumi pkg/secrets/passphrase/manager_test.go: a passphrase state, its passphrase, and
# the wrong one the test expects to be refused.
MANAGER_SALT = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ=="
MANAGER_PASSPHRASE = "password"
MANAGER_WRONG_PASSPHRASE = "password123"
