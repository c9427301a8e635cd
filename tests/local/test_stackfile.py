"""Stack files with passphrase secrets: read as the Pulumi CLI hands them to the program,
written as `pulumi config set` writes them, checked against pulumi-crypto and the CLI's own
expected files. In-process, no network; few PBKDF2 derivations (each is cached per process).
"""

from __future__ import annotations

import base64
import difflib
import io
import json
import traceback
from pathlib import Path

import pulumi_crypto
import pytest
import yaml
from pulumi_vectors import (
    ROUNDTRIP_AFTER,
    ROUNDTRIP_BEFORE,
    ROUNDTRIP_PASSPHRASE,
    ROUNDTRIP_PLAINTEXT,
    ROUNDTRIP_PROJECT,
    ROUNDTRIP_SALT,
)

from local.cli import main
from local.config_values import go_json, parse_config_key, parse_property_path
from local.stackfile import StackFileError, get_config, load_stack_config, secret_env_var
from local.stackfile_write import set_config

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = ROUNDTRIP_PASSPHRASE  # its key is derived once and cached for the module
WRONG = "not-the-passphrase"
RIGHT = {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
WRONG_ENV = {"PULUMI_CONFIG_PASSPHRASE": WRONG}
SECRETS = ("gh-s3cret-value", "stripe-s3cret-value", "list-s3cret-value", "token-s3cret-value")


@pytest.fixture(scope="module")
def oracle() -> pulumi_crypto.PassphraseCipher:
    """pulumi-crypto opened on the CLI-written salt (one oracle derivation for the module)."""
    return pulumi_crypto.PassphraseCipher(PASSPHRASE, salt_state=ROUNDTRIP_SALT)


def _project(tmp_path: Path, stack_text: str, stack: str = "dev") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: async-webhook\nruntime: python\n")
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(stack_text)
    return tmp_path


def _encrypted_stack(oracle: pulumi_crypto.PassphraseCipher) -> str:
    """A stack file as `pulumi config set --secret [--path]` leaves it, encrypted by the oracle."""
    gh, stripe, item, token = (oracle.encrypt(s) for s in SECRETS)
    return f"""encryptionsalt: {ROUNDTRIP_SALT}
config:
  aws:region: us-east-1
  async-webhook:logLevel: INFO
  async-webhook:routeSecrets:
    gh:
      secure: {gh}
    stripe:
      secure: {stripe}
  async-webhook:keys:
    - secure: {item}
    - plain <&>
    - 3
  async-webhook:verifyToken:
    secure: {token}
"""


def _yaml_file(project: Path, stack: str = "dev") -> dict:
    return yaml.safe_load((project / f"Pulumi.{stack}.yaml").read_text())


# --- reading -------------------------------------------------------------------------------


def test_nested_secrets_reach_the_program_as_the_cli_hands_them(tmp_path: Path, oracle):
    # GIVEN a stack file with a secret object, a list holding a secret, and a top-level secret
    project = _project(tmp_path, _encrypted_stack(oracle))

    # WHEN read with the passphrase
    config = load_stack_config(project, "dev", RIGHT)

    # THEN objects arrive as Go's compact JSON with plaintext inside, keys sorted, <>& escaped
    assert config.values["async-webhook:routeSecrets"] == (
        '{"gh":"gh-s3cret-value","stripe":"stripe-s3cret-value"}'
    )
    assert config.values["async-webhook:keys"] == (
        '["list-s3cret-value","plain \\u003c\\u0026\\u003e",3]'
    )
    assert config.values["async-webhook:verifyToken"] == "token-s3cret-value"
    assert config.values["async-webhook:logLevel"] == "INFO"
    # AND every key holding a secret anywhere is a secret key, and only those
    assert config.secret_keys == [
        "async-webhook:routeSecrets",
        "async-webhook:keys",
        "async-webhook:verifyToken",
    ]


def test_the_clis_own_stack_file_reads_as_the_cli_would(tmp_path: Path):
    # GIVEN the stack file of pulumi/pulumi's round-trip test (written by the CLI)
    (tmp_path / "Pulumi.yaml").write_text(ROUNDTRIP_PROJECT)
    (tmp_path / "Pulumi.test.yaml").write_text(ROUNDTRIP_BEFORE)

    config = load_stack_config(tmp_path, "test", RIGHT)

    assert config.values == {
        "foo:a": "some-value",
        "foo:b": "some-value",
        "foo:c": '{"a":"A","b":"B","c":[1,2,3]}',
        "foo:d": ROUNDTRIP_PLAINTEXT,
    }
    assert config.secret_keys == ["foo:d"]


def test_an_environment_variable_wins_over_the_file(tmp_path: Path, oracle):
    # GIVEN the encrypted stack, with one nested value given in its variable
    project = _project(tmp_path, _encrypted_stack(oracle))
    env = {**RIGHT, "LOCAL_SECRET_ROUTE_SECRETS_GH": "from-ci"}

    # WHEN read THEN the variable's value is used, the others decrypted
    values = load_stack_config(project, "dev", env).values
    assert json.loads(values["async-webhook:routeSecrets"]) == {
        "gh": "from-ci",
        "stripe": "stripe-s3cret-value",
    }


def test_with_every_secret_in_a_variable_no_passphrase_is_needed(tmp_path: Path, oracle):
    # GIVEN every secret given in its variable, and no passphrase at all
    project = _project(tmp_path, _encrypted_stack(oracle))
    env = {
        "LOCAL_SECRET_ROUTE_SECRETS_GH": "a",
        "LOCAL_SECRET_ROUTE_SECRETS_STRIPE": "b",
        "LOCAL_SECRET_KEYS_0": "c",
        "LOCAL_SECRET_VERIFY_TOKEN": "d",
    }
    # WHEN read THEN it works, and the keys stay secret
    config = load_stack_config(project, "dev", env)
    assert config.values["async-webhook:keys"] == '["c","plain \\u003c\\u0026\\u003e",3]'
    assert config.values["async-webhook:verifyToken"] == "d"
    assert "async-webhook:keys" in config.secret_keys


def test_without_a_passphrase_one_error_names_every_value_and_its_variable(tmp_path: Path, oracle):
    project = _project(tmp_path, _encrypted_stack(oracle))
    env = {"LOCAL_SECRET_ROUTE_SECRETS_STRIPE": "given"}

    with pytest.raises(StackFileError) as caught:
        load_stack_config(project, "dev", env)

    text = str(caught.value)
    for path, var in (
        ("async-webhook:routeSecrets.gh", "LOCAL_SECRET_ROUTE_SECRETS_GH"),
        ("async-webhook:keys[0]", "LOCAL_SECRET_KEYS_0"),
        ("async-webhook:verifyToken", "LOCAL_SECRET_VERIFY_TOKEN"),
    ):
        assert f"{path} (set {var})" in text
    assert "PULUMI_CONFIG_PASSPHRASE" in text
    assert "STRIPE" not in text  # given, so not missing


def test_secure_values_without_a_salt_name_their_variables(tmp_path: Path):
    project = _project(tmp_path, "config:\n  async-webhook:verifyToken:\n    secure: v1:abc\n")
    with pytest.raises(StackFileError, match="no encryptionsalt") as caught:
        load_stack_config(project, "dev", RIGHT)
    assert "LOCAL_SECRET_VERIFY_TOKEN" in str(caught.value)


def test_a_wrong_passphrase_is_a_clear_error(tmp_path: Path, oracle):
    project = _project(tmp_path, _encrypted_stack(oracle))
    with pytest.raises(StackFileError, match="incorrect passphrase") as caught:
        load_stack_config(project, "dev", WRONG_ENV)
    text = str(caught.value)
    assert "PULUMI_CONFIG_PASSPHRASE" in text
    assert "LOCAL_SECRET_VERIFY_TOKEN" in text
    assert WRONG not in text


def test_a_tampered_value_is_refused_naming_its_key(tmp_path: Path, oracle):
    # GIVEN one ciphertext changed in the file (its last character, inside the GCM tag)
    text = _encrypted_stack(oracle)
    good = _yaml_file(_project(tmp_path, text))["config"]["async-webhook:routeSecrets"]["gh"]
    version, nonce, sealed = good["secure"].split(":")
    raw = bytearray(base64.b64decode(sealed))
    raw[-1] ^= 0x80
    bad = f"{version}:{nonce}:{base64.b64encode(bytes(raw)).decode()}"
    _project(tmp_path, text.replace(good["secure"], bad))

    # WHEN read THEN refused, naming the value's path
    with pytest.raises(StackFileError, match="authentication failed") as caught:
        load_stack_config(tmp_path, "dev", RIGHT)
    assert "async-webhook:routeSecrets.gh" in str(caught.value)


def test_yaml_reads_as_the_clis_go_decoder_does(tmp_path: Path):
    # yes/on and dates stay text (Go's yaml.v3 into config); true/false are booleans
    project = _project(
        tmp_path,
        "config:\n  async-webhook:a: yes\n  async-webhook:b: 2024-01-02\n"
        "  async-webhook:c: true\n  async-webhook:d: [1.5, 1.0e+21, on]\n",
    )
    values = load_stack_config(project, "dev", {}).values
    assert values["async-webhook:a"] == "yes"
    assert values["async-webhook:b"] == "2024-01-02"
    assert values["async-webhook:c"] == "true"
    assert values["async-webhook:d"] == '[1.5,1e+21,"on"]'


# --- writing -------------------------------------------------------------------------------


def test_set_secret_by_path_is_read_by_the_oracle_and_by_us(tmp_path: Path, oracle):
    # GIVEN the CLI-salted stack
    project = _project(tmp_path, f"encryptionsalt: {ROUNDTRIP_SALT}\nconfig: {{}}\n")

    # WHEN two route secrets are set by path, and a list item
    set_config(project, "dev", "routeSecrets.gh", "gh-1", secret=True, path=True, environ=RIGHT)
    strava = "routeSecrets.strava-main"
    set_config(project, "dev", strava, "tok", secret=True, path=True, environ=RIGHT)
    set_config(project, "dev", "keys[0]", "k0", secret=True, path=True, environ=RIGHT)

    # THEN the file has the CLI's shape and the oracle decrypts each value
    routes = _yaml_file(project)["config"]["async-webhook:routeSecrets"]
    assert set(routes) == {"gh", "strava-main"}
    assert oracle.decrypt(routes["gh"]["secure"]) == "gh-1"
    assert oracle.decrypt(routes["strava-main"]["secure"]) == "tok"
    item = _yaml_file(project)["config"]["async-webhook:keys"][0]["secure"]
    assert oracle.decrypt(item) == "k0"
    # AND the program gets them as the CLI hands them
    config = load_stack_config(project, "dev", RIGHT)
    assert config.values["async-webhook:routeSecrets"] == '{"gh":"gh-1","strava-main":"tok"}'
    assert config.values["async-webhook:keys"] == '["k0"]'
    assert config.secret_keys == ["async-webhook:routeSecrets", "async-webhook:keys"]


def test_set_secret_on_a_stack_without_salt_creates_one_the_oracle_reads(tmp_path: Path):
    # GIVEN a stack with no encryptionsalt yet
    project = _project(tmp_path, "config:\n  aws:region: us-east-1\n")
    env = {"PULUMI_CONFIG_PASSPHRASE": "a fresh passphrase"}

    # WHEN a secret is set
    set_config(project, "dev", "verifyToken", "fresh-token", secret=True, environ=env)

    # THEN a salt was created, which the oracle opens with the passphrase, and reads the value
    data = _yaml_file(project)
    cipher = pulumi_crypto.PassphraseCipher("a fresh passphrase", salt_state=data["encryptionsalt"])
    assert cipher.decrypt(data["config"]["async-webhook:verifyToken"]["secure"]) == "fresh-token"
    assert load_stack_config(project, "dev", env).values["async-webhook:verifyToken"] == (
        "fresh-token"
    )


def test_set_secret_needs_the_passphrase_and_the_right_one(tmp_path: Path):
    project = _project(tmp_path, f"encryptionsalt: {ROUNDTRIP_SALT}\nconfig: {{}}\n")
    before = (project / "Pulumi.dev.yaml").read_text()
    with pytest.raises(StackFileError, match="PULUMI_CONFIG_PASSPHRASE"):
        set_config(project, "dev", "t", "v", secret=True, environ={})
    with pytest.raises(StackFileError, match="incorrect passphrase"):
        set_config(project, "dev", "t", "v", secret=True, environ=WRONG_ENV)
    assert (project / "Pulumi.dev.yaml").read_text() == before


def test_set_secret_refuses_to_salt_a_file_another_provider_encrypted(tmp_path: Path):
    # GIVEN secure values but no salt (another secrets provider wrote them)
    text = "config:\n  async-webhook:t:\n    secure: AAABAJ0x\n"
    project = _project(tmp_path, text)
    with pytest.raises(StackFileError, match="another secrets provider"):
        set_config(project, "dev", "u", "v", secret=True, environ=RIGHT)
    assert (project / "Pulumi.dev.yaml").read_text() == text


def test_the_clis_own_edit_comes_out_byte_for_byte(tmp_path: Path):
    # GIVEN the commented file of pulumi/pulumi's round-trip test
    (tmp_path / "Pulumi.yaml").write_text(ROUNDTRIP_PROJECT)
    (tmp_path / "Pulumi.test.yaml").write_text(ROUNDTRIP_BEFORE)

    # WHEN the same two commands run here
    set_config(tmp_path, "test", "e", "E", environ={})
    set_config(tmp_path, "test", "c.c[2]", "three", path=True, environ={})

    # THEN the file is exactly what the CLI's test expects it to write
    assert (tmp_path / "Pulumi.test.yaml").read_text() == ROUNDTRIP_AFTER


def test_the_dev_stack_file_keeps_its_comments_and_keys_byte_for_byte(tmp_path: Path):
    # GIVEN the project's own commented dev stack file
    original = (ROOT / "Pulumi.dev.yaml").read_text()
    project = _project(tmp_path, original)

    # WHEN a secret object, a plain value and a changed value are set
    set_config(project, "dev", "routeSecrets.gh", "x", secret=True, path=True, environ=RIGHT)
    set_config(project, "dev", "namePrefix", "hooks-dev", environ={})
    set_config(project, "dev", "batchSize", "20", environ={})

    # THEN every other line is kept, in order, byte for byte; only the set keys differ
    after = (project / "Pulumi.dev.yaml").read_text().splitlines(keepends=True)
    before = original.splitlines(keepends=True)
    changed = [
        (tag, before[i1:i2], after[j1:j2])
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after).get_opcodes()
        if tag != "equal"
    ]
    assert changed == [
        ("replace", ["  async-webhook:batchSize: 10\n"], ['  async-webhook:batchSize: "20"\n']),
        (
            "insert",
            [],
            [
                "  async-webhook:routeSecrets:\n",
                "    gh:\n",
                after[after.index("    gh:\n") + 1],
                "  async-webhook:namePrefix: hooks-dev\n",
                after[-1],
            ],
        ),
    ]
    assert after[-1].startswith("encryptionsalt: v1:")
    assert after[after.index("    gh:\n") + 1].startswith("      secure: v1:")


def test_set_follows_the_clis_path_rules(tmp_path: Path):
    project = _project(tmp_path, "config:\n  async-webhook:plain: text\n")

    # --path values: true/false and plain integers typed, leading zeros kept as text
    for index, value in enumerate(["true", "42", "007", "x"]):
        set_config(project, "dev", f"opts[{index}]", value, path=True, environ={})
    # a new list at index 2 is filled with nulls before it
    set_config(project, "dev", "gaps[2]", "z", path=True, environ={})
    # a top-level scalar becomes a map when a path goes into it
    set_config(project, "dev", "plain.inner", "v", path=True, environ={})
    # without --path, the key is one name and the value text, quoted when it looks typed
    set_config(project, "dev", "a.b", "5", environ={})

    values = load_stack_config(project, "dev", {}).values
    assert values["async-webhook:opts"] == '[true,42,"007","x"]'
    assert values["async-webhook:gaps"] == '[null,null,"z"]'
    assert values["async-webhook:plain"] == '{"inner":"v"}'
    assert values["async-webhook:a.b"] == "5"
    assert '  async-webhook:a.b: "5"\n' in (project / "Pulumi.dev.yaml").read_text()


def test_text_that_yaml_would_read_as_a_number_is_quoted_and_checked(tmp_path: Path, monkeypatch):
    # GIVEN a value YAML 1.1 readers take for a number (sexagesimal 1:20 is 80)
    project = _project(tmp_path, "config: {}\n")
    set_config(project, "dev", "clock", "1:20", environ={})
    # THEN it is written quoted and reads back as the text it was
    assert '  async-webhook:clock: "1:20"\n' in (project / "Pulumi.dev.yaml").read_text()
    assert load_stack_config(project, "dev", {}).values["async-webhook:clock"] == "1:20"

    # AND were the quoting ever to miss one, the write is refused and the file left alone
    monkeypatch.setattr("local.stackfile_write._quoted", lambda value: value)
    before = (project / "Pulumi.dev.yaml").read_text()
    with pytest.raises(StackFileError, match="would not read back"):
        set_config(project, "dev", "other", "1:30", environ={})
    assert (project / "Pulumi.dev.yaml").read_text() == before


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("opts[5]", "array index out of range"),
        ("opts.x", "key for an array must be an int"),
        ("deep.leaf.more", "expected a map"),
        ("fresh.secure", 'single key "secure" are reserved'),
        ("a[", "missing closing bracket"),
        ('["x', "missing closing quote"),
        (".a", "start with a name or index"),
        ("[0]", "first path segment must be a name"),
        ("a:b:c", "could not parse"),
    ],
)
def test_bad_paths_are_refused_and_leave_the_file_alone(tmp_path: Path, key: str, message: str):
    text = "config:\n  async-webhook:opts: [1]\n  async-webhook:deep:\n    leaf: 3\n"
    project = _project(tmp_path, text)
    with pytest.raises(StackFileError, match=message):
        set_config(project, "dev", key, "v", path=True, environ={})
    assert (project / "Pulumi.dev.yaml").read_text() == text


def test_property_paths_parse_as_the_cli_parses_them():
    # Examples from pulumi/pulumi sdk/go/common/resource/properties_path.go
    assert parse_property_path("root") == ["root"]
    assert parse_property_path('root["double"].nest') == ["root", "double", "nest"]
    assert parse_property_path("root.array[0][1].nested") == ["root", "array", 0, 1, "nested"]
    assert parse_property_path('root["key with \\"escaped\\" quotes"]') == [
        "root",
        'key with "escaped" quotes',
    ]
    assert parse_property_path('["root key with a ."][100]') == ["root key with a .", 100]
    assert parse_property_path("foo-bar.x") == ["foo-bar", "x"]
    assert parse_config_key("p", "aws:tags.Name", path=True) == ("aws:tags", ["tags", "Name"])
    assert parse_config_key("p", 'a["b.c"]', path=True) == ("p:a", ["a", "b.c"])
    assert parse_config_key("p", "a.b", path=False) == ("p:a.b", ["a.b"])


def test_objects_are_json_as_go_writes_it():
    assert go_json({"b": [1, 2.5, None], "a": "<&>", "é": True}) == (
        '{"a":"\\u003c\\u0026\\u003e","b":[1,2.5,null],"é":true}'
    )
    assert [go_json(f) for f in (1e21, 1e-7, 1e16, 0.5, 1.0, -0.0)] == [
        "1e+21",
        "1e-7",
        "10000000000000000",
        "0.5",
        "1",
        "-0",
    ]


def test_variable_names_for_top_level_keys_and_paths():
    assert secret_env_var("async-webhook:verifyToken") == "LOCAL_SECRET_VERIFY_TOKEN"
    assert secret_env_var("async-webhook:routeSecrets", ["gh"]) == "LOCAL_SECRET_ROUTE_SECRETS_GH"
    assert secret_env_var("async-webhook:routeSecrets", ["strava-main"]) == (
        "LOCAL_SECRET_ROUTE_SECRETS_STRAVA_MAIN"
    )
    assert secret_env_var("async-webhook:keys", [0]) == "LOCAL_SECRET_KEYS_0"


# --- get and the command line ----------------------------------------------------------------


def test_get_decrypts_only_what_it_prints(tmp_path: Path, oracle):
    project = _project(tmp_path, _encrypted_stack(oracle))
    # A plain value needs no passphrase even in a file with secrets
    assert get_config(project, "dev", "logLevel", environ={}).text == "INFO"
    assert get_config(project, "dev", "keys[1]", path=True, environ={}).secret is False
    got = get_config(project, "dev", "routeSecrets.gh", path=True, environ=RIGHT)
    assert (got.text, got.secret) == ("gh-s3cret-value", True)
    with pytest.raises(StackFileError, match=r"'routeSecrets\.nope' not found for stack 'dev'"):
        get_config(project, "dev", "routeSecrets.nope", path=True, environ=RIGHT)


def test_config_command_sets_and_gets(tmp_path: Path, monkeypatch, capsys):
    project = _project(tmp_path, "config:\n  aws:region: us-east-1\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    monkeypatch.delenv("LOCAL_SECRET_ROUTE_SECRETS_GH", raising=False)
    where = ["-C", str(project), "-s", "dev"]

    # WHEN a secret is set by path on the command line, and another piped in
    assert main(["config", "set", "--secret", "--path", "routeSecrets.gh", "v-1", *where]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("piped-value\n"))
    assert main(["config", "set", "--secret", "--path", "routeSecrets.x", *where]) == 0
    capsys.readouterr()

    # THEN get refuses to print a secret without --show-secrets, and prints it with it
    assert main(["config", "get", "--path", "routeSecrets.gh", *where]) == 2
    assert "--show-secrets" in capsys.readouterr().err
    assert main(["config", "get", "--path", "routeSecrets.x", "--show-secrets", *where]) == 0
    assert capsys.readouterr().out == "piped-value\n"
    assert main(["config", "get", "aws:region", *where]) == 0
    assert capsys.readouterr().out == "us-east-1\n"
    assert main(["config", "get", "nope", *where]) == 2
    assert "not found" in capsys.readouterr().err


# --- never printed ---------------------------------------------------------------------------


def _every_text(exc: BaseException) -> str:
    """Message, repr and the whole formatted chain, as any handler might show it."""
    chain = [exc]
    while chain[-1].__context__ is not None:
        chain.append(chain[-1].__context__)  # type: ignore[arg-type]
    parts = ["".join(traceback.format_exception(exc))]
    parts += [f"{e!s} {e!r} {e.args!r}" for e in chain]
    return "\n".join(parts)


def test_no_secret_or_passphrase_appears_in_any_output_or_error(
    tmp_path: Path, oracle, monkeypatch, capsys
):
    # GIVEN the encrypted stack (values SECRETS, passphrase PASSPHRASE) and a wrong passphrase
    project = _project(tmp_path, _encrypted_stack(oracle))
    phrase_file = tmp_path / "phrase"
    phrase_file.write_text(WRONG)
    texts: list[str] = []

    def failing(call, *args, **kwargs) -> None:
        with pytest.raises(StackFileError) as caught:
            call(*args, **kwargs)
        texts.append(_every_text(caught.value))

    # WHEN every error path runs: no passphrase, a wrong one (variable and file), a tampered
    # value, a secret set without or with a wrong passphrase, a bad path under a secret
    failing(load_stack_config, project, "dev", {})
    failing(load_stack_config, project, "dev", WRONG_ENV)
    failing(load_stack_config, project, "dev", {"PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase_file)})
    failing(set_config, project, "dev", "new", SECRETS[0], secret=True, environ={})
    failing(set_config, project, "dev", "n", SECRETS[0], secret=True, environ=WRONG_ENV)
    failing(get_config, project, "dev", "routeSecrets.gh.deeper", path=True, environ=RIGHT)
    tampered = project / "Pulumi.dev.yaml"
    tampered.write_text(tampered.read_text().replace("secure: v1:", "secure: v1:AA", 1))
    failing(load_stack_config, project, "dev", RIGHT)
    _project(tmp_path, _encrypted_stack(oracle))

    # AND the commands run: read, write, get without --show-secrets, get failing
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", PASSPHRASE)
    where = ["-C", str(project), "-s", "dev"]
    main(["config", "set", "--secret", "--path", "routeSecrets.new", SECRETS[1], *where])
    main(["config", "get", "--path", "routeSecrets.gh", *where])
    main(["config", "get", "verifyToken", *where])
    main(["config", "get", "--path", "routeSecrets.gh.x", *where])
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", WRONG)
    main(["config", "get", "verifyToken", "--show-secrets", *where])
    main(["config", "set", "--secret", "k", SECRETS[2], *where])
    captured = capsys.readouterr()
    texts += [captured.out, captured.err]

    # THEN no output or exception text holds a secret value or either passphrase
    everything = "\n".join(texts)
    assert "incorrect passphrase" in everything and "--show-secrets" in everything
    for secret in (*SECRETS, PASSPHRASE, WRONG):
        assert secret not in everything
