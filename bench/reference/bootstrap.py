#!/usr/bin/python3
"""A tiny Lambda runtime loop for the reference handlers, as AWS's own Python
runtime interface client does it: import the handler (its module-level boto3
clients are the init), then GET /next, call it, POST /response or /error.

    AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 bootstrap.py stopper
"""

import json
import os
import sys
import time
import traceback
import urllib.request

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers['Lambda-Runtime-Aws-Request-Id']
        self.invoked_function_arn = headers.get('Lambda-Runtime-Invoked-Function-Arn')
        self.function_name = os.environ.get('AWS_LAMBDA_FUNCTION_NAME')
        self._deadline_ms = int(headers.get('Lambda-Runtime-Deadline-Ms', '0'))

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def post(path, body, headers=None):
    req = urllib.request.Request(f'{API}{path}', data=json.dumps(body).encode(), method='POST',
                                 headers={'Content-Type': 'application/json', **(headers or {})})
    urllib.request.urlopen(req).read()


def main():
    try:
        module = __import__(sys.argv[1])
        handler = module.lambda_handler
    except Exception as e:  # noqa: BLE001 - reported as Lambda does
        post('/init/error', {'errorType': type(e).__name__, 'errorMessage': str(e)},
             {'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError'})
        return 1
    while True:
        with urllib.request.urlopen(f'{API}/invocation/next') as resp:
            headers = dict(resp.headers)
            event = json.loads(resp.read() or b'null')
        context = Context(headers)
        rid = context.aws_request_id
        try:
            result = handler(event, context)
        except Exception as e:  # noqa: BLE001
            traceback.print_exc()
            post(f'/invocation/{rid}/error',
                 {'errorType': type(e).__name__, 'errorMessage': str(e)},
                 {'Lambda-Runtime-Function-Error-Type': 'Unhandled'})
            continue
        post(f'/invocation/{rid}/response', result)


if __name__ == '__main__':
    sys.exit(main())
