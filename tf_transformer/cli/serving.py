"""`tf-transformer serving`: check exports as TF Serving loads them, write models.config,
send requests to a running server."""

import json
import os

from tf_transformer.errors import InputError


def add_commands(commands):
    serving = commands.add_parser("serving", help="check exports as TF Serving loads them")
    serving_commands = serving.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = serving_commands.add_parser("check", help="load an export with the C API and run it")
    check.add_argument("path", help="a version directory, e.g. saved_models/translator/1")
    check.set_defaults(handler=serving_check)

    config = serving_commands.add_parser(
        "config", help="regenerate models.config from the exported models"
    )
    config.add_argument("--root", default="saved_models", help="the export root")
    config.add_argument(
        "--base-path", default="/models", help="where the server sees the root (default /models)"
    )
    config.set_defaults(handler=serving_config)

    request = serving_commands.add_parser("request", help="send texts to a running server")
    request.add_argument("texts", nargs="+")
    request.add_argument(
        "--url", default="http://localhost:8501", help="REST URL, or gRPC host:port"
    )
    request.add_argument("--model", required=True, help="the model name, e.g. translator")
    request.add_argument("--signature", help="default: serving_default")
    request.add_argument("--input", default=None, help="input name (default: text or prompt)")
    request.add_argument(
        "--pair",
        action="append",
        metavar="TEXT",
        help="the second text of each pair (input `pair`), for a classifier of pairs: one "
        "--pair for each text, in order",
    )
    request.add_argument("--grpc", action="store_true", help="use gRPC (port 8500) instead of REST")
    request.add_argument(
        "--columnar", action="store_true", help="REST columnar format (inputs) instead of rows"
    )
    request.set_defaults(handler=serving_request)


def serving_check(args):
    from tf_transformer.serving.conformance import check_export

    report = check_export(args.path)
    for line in report.lines():
        print(line)
    print("conformance check passed")
    return 0


def serving_config(args):
    from tf_transformer.serving.model_config import write_model_config

    path, names = write_model_config(args.root, args.base_path)
    print(f"wrote {path}: {', '.join(names)}")
    root = os.path.abspath(args.root)
    print("serve them all with TensorFlow Serving (Docker):")
    print(
        f'  docker run -p 8500:8500 -p 8501:8501 --mount type=bind,source="{root}",'
        f"target={args.base_path} -t tensorflow/serving "
        f"--model_config_file={args.base_path}/models.config"
    )
    return 0


def serving_request(args):
    from tf_transformer.serving.client import GrpcClient, RestClient, ServingError, strings

    name = args.input or ("prompt" if args.model == "gpt" else "text")
    columns = {name: args.texts}
    if args.pair:
        if len(args.pair) != len(args.texts):
            raise InputError(
                f"give one --pair for each text ({len(args.texts)} texts, {len(args.pair)} --pair)"
            )
        columns["pair"] = args.pair
    count = len(args.texts)
    try:
        if args.grpc:
            client = GrpcClient(args.url.split("://")[-1], args.model)
            outputs = client.predict(columns, args.signature)
            rows = [{key: value[i] for key, value in outputs.items()} for i in range(count)]
        else:
            client = RestClient(args.url, args.model)
            if args.columnar:
                outputs = client.predict(columns, args.signature, columnar=True)
                rows = outputs  # one output: a list of values, as in the row format
                if isinstance(outputs, dict):
                    rows = [{key: value[i] for key, value in outputs.items()} for i in range(count)]
            else:
                instances = [{k: v[i] for k, v in columns.items()} for i in range(count)]
                rows = client.predict(instances, args.signature)
    except ServingError as error:
        raise InputError(f"the server answered: {error}") from None
    for i, row in enumerate(rows):
        shown = "\t".join(values[i] for values in columns.values())
        print(f"{shown}\t{json.dumps(strings(row), ensure_ascii=False)}")
    return 0
