from rest_framework.routers import SimpleRouter

from awards.api.views import AwardCategoryViewSet, AwardCycleViewSet, NominationViewSet, VoteViewSet

router = SimpleRouter()
router.register("awards/categories", AwardCategoryViewSet, basename="api-award-category")
router.register("awards/cycles", AwardCycleViewSet, basename="api-award-cycle")
router.register("awards/nominations", NominationViewSet, basename="api-award-nomination")
router.register("awards/votes", VoteViewSet, basename="api-award-vote")
