"""Contains all the data models used in inputs/outputs"""

from .ack import Ack
from .ack_request import AckRequest
from .alert_item import AlertItem
from .alert_page import AlertPage
from .alert_stream_kind_type_0 import AlertStreamKindType0
from .bucket_total import BucketTotal
from .dead_letter_page import DeadLetterPage
from .dead_letter_page_items_item import DeadLetterPageItemsItem
from .deal_card_response_deal_card import DealCardResponseDealCard
from .error_body import ErrorBody
from .field_error import FieldError
from .flow_answer import FlowAnswer
from .flow_answer_buckets import FlowAnswerBuckets
from .flow_answer_items_type_0_item import FlowAnswerItemsType0Item
from .healthz_response_healthz import HealthzResponseHealthz
from .list_alerts_kind_type_0 import ListAlertsKindType0
from .list_page import ListPage
from .list_page_items_item import ListPageItemsItem
from .pipeline_flow_bucket_type_0 import PipelineFlowBucketType0
from .stalled_page import StalledPage
from .stalled_page_items_item import StalledPageItemsItem
from .stream_message import StreamMessage
from .stream_token_answer import StreamTokenAnswer
from .webhook_create import WebhookCreate
from .webhook_create_format import WebhookCreateFormat
from .webhook_created import WebhookCreated
from .webhook_created_format import WebhookCreatedFormat
from .webhook_detail import WebhookDetail
from .webhook_detail_format import WebhookDetailFormat
from .webhook_detail_stats import WebhookDetailStats
from .webhook_filter import WebhookFilter
from .webhook_filter_kinds_item import WebhookFilterKindsItem
from .webhook_filter_min_severity_type_0 import WebhookFilterMinSeverityType0
from .webhook_out import WebhookOut
from .webhook_out_format import WebhookOutFormat
from .webhook_page import WebhookPage

__all__ = (
    "Ack",
    "AckRequest",
    "AlertItem",
    "AlertPage",
    "AlertStreamKindType0",
    "BucketTotal",
    "DeadLetterPage",
    "DeadLetterPageItemsItem",
    "DealCardResponseDealCard",
    "ErrorBody",
    "FieldError",
    "FlowAnswer",
    "FlowAnswerBuckets",
    "FlowAnswerItemsType0Item",
    "HealthzResponseHealthz",
    "ListAlertsKindType0",
    "ListPage",
    "ListPageItemsItem",
    "PipelineFlowBucketType0",
    "StalledPage",
    "StalledPageItemsItem",
    "StreamMessage",
    "StreamTokenAnswer",
    "WebhookCreate",
    "WebhookCreated",
    "WebhookCreatedFormat",
    "WebhookCreateFormat",
    "WebhookDetail",
    "WebhookDetailFormat",
    "WebhookDetailStats",
    "WebhookFilter",
    "WebhookFilterKindsItem",
    "WebhookFilterMinSeverityType0",
    "WebhookOut",
    "WebhookOutFormat",
    "WebhookPage",
)
