import os

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

webhook = Webhook(os.environ["WEBHOOK_SECRET"])  # the whsec_… POST /v1/webhooks gave you


async def receive(request):
    try:  # the exact bytes received: re-serialised JSON does not verify
        event = webhook.verify(await request.body(), dict(request.headers))
    except WebhookVerificationError:
        return Response(status_code=400)
    # An event of the log has its conflict as subject and the event as data.data; a
    # webhook.ping has no subject and data {"webhook_id", "message"}.
    data = event["data"]
    print(request.headers["webhook-id"], event["type"], event.get("subject", "-"),
          data.get("data", data), flush=True)
    return Response(status_code=204)  # any 2xx within 15 s; dedupe on webhook-id


app = Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
