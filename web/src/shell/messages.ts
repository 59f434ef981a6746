/**
 * Every text of the UI, in Chinese (the default) and English: one table, no strings in components. Switch with
 * setLanguage (the 中/EN button); screens re-render their texts through onLanguageChange.
 */
const zh = {
  appTitle: 'citygrid 网格化管理',
  signInTitle: '登录',
  signInHint: '输入 API 令牌（npm start 会打印每个角色的演示令牌和链接）',
  tokenLabel: 'API 令牌',
  signIn: '登录',
  signOut: '退出',
  signedInAs: '当前角色',
  screens: '可用界面',
  noScreens: '此角色没有可打开的界面',
  badToken: '令牌无效或已吊销',
  screenWall: '指挥中心大屏',
  screenWallHint: '全市事件态势、巡查轨迹与实时上报',
  screenPlanner: '网格规划',
  screenPlannerHint: '网格编辑、拆分合并与覆盖检查',
  screenPolice: '警务研判',
  screenPoliceHint: '交通事故风险与黑点路段',
  screenMap: '城市地图',
  screenMapHint: '本角色可见的全部图层',
  coming: '建设中：该界面将在后续版本中提供。',
  backToStart: '返回首页',
  noToken: '没有 API 令牌：请打开 npm start 打印的链接（…/?token=…）或在首页登录',
  tileLayers: '个图层',
  legend: '图例',
  zoom: '缩放',
  wallTitle: '城市运行管理指挥中心',
  wallSubtitle: '网格化管理 · 全域态势',
  replay: '回放',
  live: '实时',
  connecting: '连接中…',
  reconnecting: '连接中断，正在重连…',
  kpiReports: '今日上报',
  kpiClosureRate: '结案率（近30日）',
  kpiOnTimeRate: '按期办结率（近30日）',
  kpiOverdue: '超期未结',
  kpiSupervising: '督办中',
  kpiWorkers: '在岗巡查',
  trendTitle: '近7日上报与结案',
  trendReports: '上报',
  trendClosed: '结案',
  categoryTitle: '近7日事件类别',
  sourceTitle: '近7日上报渠道',
  overdueGridsTitle: '超期案件最多的网格',
  tickerTitle: '实时上报',
  tickerEmpty: '等待新的上报…',
  cityView: '全市视图',
  districtView: '重点区域',
  legendHeat: '近7日事件热力',
  legendHex: '7日事件数（H3）',
  legendTracks: '今日巡查轨迹',
  legendWorkers: '巡查人员位置',
  legendLive: '新上报',
  unitCases: '件',
  unitPeople: '人',
  policeTitle: '交通事故风险研判',
  policeWindow: '预测时段',
  policeModel: '模型版本',
  policeUpdated: '更新时间',
  policeLegend: '事故风险等级',
  riskLevel4: '极高（前5%）',
  riskLevel3: '高（前20%）',
  riskLevel2: '中（前50%）',
  riskLevel1: '低',
  legendAccidents: '近30日事故（按严重程度）',
  legendHotspots: '事故热点（Gi* ≥95%）',
  topTitle: '风险最高的20个路段',
  expectedAccidents: '预计事故',
  deploymentTitle: '建议布警点',
  deploymentUnits: '可用警车',
  deploymentRadius: '覆盖半径（米）',
  deploymentCovered: '覆盖预测风险',
  deploymentPoint: '布警点',
  roadSegment: '路段',
  cellUnit: '网格单元',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  appTitle: 'citygrid grid management',
  signInTitle: 'Sign in',
  signInHint: 'Enter an API token (npm start prints a demo token and link per role)',
  tokenLabel: 'API token',
  signIn: 'Sign in',
  signOut: 'Sign out',
  signedInAs: 'Role',
  screens: 'Screens',
  noScreens: 'This role may open no screen',
  badToken: 'The token is unknown or revoked',
  screenWall: 'Command-centre wall',
  screenWallHint: 'City-wide incidents, patrols and live reports',
  screenPlanner: 'Grid planning',
  screenPlannerHint: 'Edit, split and merge grids; coverage checks',
  screenPolice: 'Police analysis',
  screenPoliceHint: 'Road-accident risk and black spots',
  screenMap: 'City map',
  screenMapHint: 'Every layer this role may see',
  coming: 'Coming: this screen is built in a later release.',
  backToStart: 'Back to start',
  noToken: 'no API token: open the link printed by npm start (…/?token=…) or sign in on the start page',
  tileLayers: 'tile layers',
  legend: 'Legend',
  zoom: 'zoom',
  wallTitle: 'City Operations Command Centre',
  wallSubtitle: 'Grid management · city overview',
  replay: 'Replay',
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Connection lost, reconnecting…',
  kpiReports: 'Reports today',
  kpiClosureRate: 'Closure rate (30 d)',
  kpiOnTimeRate: 'On-time rate (30 d)',
  kpiOverdue: 'Overdue open',
  kpiSupervising: 'Under supervision',
  kpiWorkers: 'Workers on patrol',
  trendTitle: 'Reports and closures, 7 days',
  trendReports: 'Reported',
  trendClosed: 'Closed',
  categoryTitle: 'By category, 7 days',
  sourceTitle: 'By source, 7 days',
  overdueGridsTitle: 'Grids with most overdue cases',
  tickerTitle: 'Live reports',
  tickerEmpty: 'Waiting for new reports…',
  cityView: 'City view',
  districtView: 'Busiest district',
  legendHeat: 'Incident heat, 7 days',
  legendHex: 'Incidents per H3 cell, 7 d',
  legendTracks: "Today's patrols",
  legendWorkers: 'Workers out now',
  legendLive: 'New report',
  unitCases: '',
  unitPeople: '',
  policeTitle: 'Accident risk analysis',
  policeWindow: 'Predicted window',
  policeModel: 'Model version',
  policeUpdated: 'Updated',
  policeLegend: 'Accident risk level',
  riskLevel4: 'Very high (top 5 %)',
  riskLevel3: 'High (top 20 %)',
  riskLevel2: 'Medium (top 50 %)',
  riskLevel1: 'Low',
  legendAccidents: 'Accidents, last 30 days (by severity)',
  legendHotspots: 'Accident hotspots (Gi* ≥ 95 %)',
  topTitle: 'Top 20 riskiest segments',
  expectedAccidents: 'Expected accidents',
  deploymentTitle: 'Suggested deployment',
  deploymentUnits: 'Patrol cars',
  deploymentRadius: 'Radius (m)',
  deploymentCovered: 'Predicted risk covered',
  deploymentPoint: 'Point',
  roadSegment: 'Segment',
  cellUnit: 'Cell',
};

/** Data values shown as labels: incident categories and report sources. */
const valueNames: Record<string, string> = {
  群租: 'Group renting',
  消防隐患: 'Fire hazard',
  违章建筑: 'Illegal building',
  矛盾纠纷: 'Dispute',
  噪音扰民: 'Noise',
  环境卫生: 'Sanitation',
  占道经营: 'Street vending',
  违规停车: 'Illegal parking',
  窨井盖: 'Manhole cover',
  道路破损: 'Road damage',
  路灯故障: 'Street light',
  绿化养护: 'Greenery',
};
const sourceNames: Record<string, [string, string]> = {
  app: ['APP', 'App'],
  hotline: ['12345热线', 'Hotline'],
  wechat: ['微信', 'WeChat'],
  patrol: ['网格巡查', 'Patrol'],
  open311: ['Open311', 'Open311'],
};

export type Language = 'zh' | 'en';
const languageKey = 'citygrid.language';
const listeners = new Set<() => void>();

export function language(): Language {
  return localStorage.getItem(languageKey) === 'en' ? 'en' : 'zh';
}

export function setLanguage(next: Language): void {
  localStorage.setItem(languageKey, next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  for (const listener of listeners) listener();
}

export function onLanguageChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function t(key: MessageKey): string {
  return language() === 'zh' ? zh[key] : en[key];
}

/** A category (or other data value) in the current language; unknown values as they are. */
export function valueName(value: string): string {
  return language() === 'en' ? (valueNames[value] ?? value) : value;
}

export function sourceName(source: string): string {
  const names = sourceNames[source];
  return names ? names[language() === 'zh' ? 0 : 1] : source;
}

/** Fills every [data-text] element under root with its message; call after rendering and on a language change. */
export function applyTexts(root: ParentNode = document): void {
  for (const element of root.querySelectorAll<HTMLElement>('[data-text]')) element.textContent = t(element.dataset.text as MessageKey);
}

/** A 中/EN button that switches the language of the whole app. */
export function languageToggle(): HTMLButtonElement {
  const button = document.createElement('button');
  button.className = 'language-toggle';
  button.id = 'language-toggle';
  const label = () => (button.textContent = language() === 'zh' ? 'EN' : '中');
  label();
  button.addEventListener('click', () => {
    setLanguage(language() === 'zh' ? 'en' : 'zh');
    label();
  });
  return button;
}
