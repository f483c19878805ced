"""Contains all the data models used in inputs/outputs"""

from .ack import Ack
from .ack_request import AckRequest
from .action_accepted import ActionAccepted
from .action_accepted_action import ActionAcceptedAction
from .actor_scorecard_response_actor_scorecard import ActorScorecardResponseActorScorecard
from .alert_item import AlertItem
from .alert_item_decision_type_0 import AlertItemDecisionType0
from .alert_page import AlertPage
from .alert_stream_kind_type_0 import AlertStreamKindType0
from .bucket_total import BucketTotal
from .dead_letter_page import DeadLetterPage
from .dead_letter_page_items_item import DeadLetterPageItemsItem
from .deal_card_response_deal_card import DealCardResponseDealCard
from .decision import Decision
from .decision_request import DecisionRequest
from .error_body import ErrorBody
from .field_error import FieldError
from .flow_answer import FlowAnswer
from .flow_answer_buckets import FlowAnswerBuckets
from .flow_answer_items_type_0_item import FlowAnswerItemsType0Item
from .healthz_response_healthz import HealthzResponseHealthz
from .help_kind import HelpKind
from .help_request import HelpRequest
from .list_alerts_kind_type_0 import ListAlertsKindType0
from .list_page import ListPage
from .list_page_items_item import ListPageItemsItem
from .list_scorecards_response_list_scorecards import ListScorecardsResponseListScorecards
from .pipeline_flow_bucket_type_0 import PipelineFlowBucketType0
from .review_request import ReviewRequest
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
    "ActionAccepted",
    "ActionAcceptedAction",
    "ActorScorecardResponseActorScorecard",
    "AlertItem",
    "AlertItemDecisionType0",
    "AlertPage",
    "AlertStreamKindType0",
    "BucketTotal",
    "DeadLetterPage",
    "DeadLetterPageItemsItem",
    "DealCardResponseDealCard",
    "Decision",
    "DecisionRequest",
    "ErrorBody",
    "FieldError",
    "FlowAnswer",
    "FlowAnswerBuckets",
    "FlowAnswerItemsType0Item",
    "HealthzResponseHealthz",
    "HelpKind",
    "HelpRequest",
    "ListAlertsKindType0",
    "ListPage",
    "ListPageItemsItem",
    "ListScorecardsResponseListScorecards",
    "PipelineFlowBucketType0",
    "ReviewRequest",
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
