/** The orchestrator's one reader of the planner's /decision (status page and live threshold). */
export {
  createPlannerFeed,
  parseDecision,
  type PlannerDecisionView,
  type PlannerFeed,
  type PlannerFeedOptions,
  type PlannerView,
} from './planner-feed.ts';
