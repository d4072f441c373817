// Entry point of the dashboard bundle: the styles, then the page.

import './styles.css';
import './status-colours.css';
import './live-chart.css';
import './order-history-panel.css';
import { startDashboard } from './dashboard.js';

startDashboard(document.body);
